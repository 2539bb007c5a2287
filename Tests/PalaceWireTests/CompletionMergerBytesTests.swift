import Testing
@testable import PalaceWire

/// The byte path of `CompletionMerger` (`add(json:)`, `add(streamChunk:)`, `resultBytes()`, `facts`) against the
/// `JSONValue` path it replaces on the proxy's hot path: same merge, same bytes, same facts, for usual streams and
/// for every odd shape (duplicate and escaped keys, values of unexpected types, escapes and surrogates, invalid JSON).
@Suite struct CompletionMergerBytesTests {
    /// Merges `chunks` both ways and checks they agree; returns the byte path's merger.
    @discardableResult
    func bothWays(_ chunks: [String], sourceLocation: SourceLocation = #_sourceLocation) -> CompletionMerger {
        var generic = CompletionMerger()
        var bytes = CompletionMerger()
        for chunk in chunks {
            let parsed = try? JSONValue.parse(chunk)
            if let parsed { generic.add(chunk: parsed) }
            var text = chunk
            let threw = text.withUTF8 { buffer in (try? bytes.add(json: buffer)) == nil }
            #expect(threw == (parsed == nil), "\(chunk)", sourceLocation: sourceLocation)
        }
        let expected = generic.result()
        #expect(bytes.chunkCount == generic.chunkCount, sourceLocation: sourceLocation)
        #expect(bytes.result() == expected, "\(chunks)\nexpected \(expected)\nbytes    \(bytes.result())",
                sourceLocation: sourceLocation)
        #expect(bytes.resultBytes() == expected.serializedBytes(),
                "\(chunks)\nexpected \(expected)\nwritten  \(String(decoding: bytes.resultBytes(), as: UTF8.self))",
                sourceLocation: sourceLocation)
        #expect(bytes.facts == CompletionFacts.of(expected), sourceLocation: sourceLocation)
        #expect(generic.facts == CompletionFacts.of(expected), sourceLocation: sourceLocation)
        return bytes
    }

    @Test(arguments: 0..<300)
    func splitThenMergeOnBytesGivesTheOriginalBack(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 104_729 &+ 3)
        let completion = CompletionGenerator.completion(using: &rng)
        let chunks = CompletionGenerator.split(completion, using: &rng)
        let pretty = seed % 5 == 0   // whitespace between tokens must not matter
        let merger = bothWays(chunks.map { $0.serialized(pretty: pretty) })
        #expect(merger.result() == completion)
        #expect(merger.resultBytes() == completion.serializedBytes())
    }

    /// Chunks of unusual shapes, mixed at random with usual ones.
    static let odd: [String] = [
        #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
        #"{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo \"quoted\" \\ \/ \n\t\u00e9\u4e2d\ud83d\ude00 \ud83d lone \ude00"}}]}"#,
        #"{"id":"","model":"","choices":[{"index":0,"delta":{"role":"","content":null,"reasoning_content":"think"},"finish_reason":"stop"}]}"#,
        #"{"id":null,"model":"m2","system_fingerprint":"fp","choices":[{"index":1,"delta":{"reasoning_content":"r","refusal":"no"},"logprobs":null}]}"#,
        #"{"choices":[{"index":"0","delta":{"content":"string index"}}]}"#,
        #"{"choices":[{"index":2.0,"delta":{"content":"float index"}}]}"#,
        #"{"choices":[{"index":1e0,"delta":{"content":"exp index"}}]}"#,
        #"{"choices":[{"delta":{"content":"no index"}},{"delta":{"content":"second"}}]}"#,
        #"{"choices":[7,null,{"index":0,"delta":{"content":"after junk"}}]}"#,
        #"{"choices":null,"usage":null}"#,
        #"{"choices":{"index":0}}"#,
        #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        #"{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
        #"{"id":"x","id":"y","choices":[]}"#,
        #"{"choices":[{"index":0,"delta":{"con\u0074ent":"escaped key"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_2","function":{"name":"g","arguments":""}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{}","strict":true},"extra":1}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":null,"type":7,"function":"oops"}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":"not an array"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[1,{"index":null,"id":"","function":{"name":null,"arguments":null}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"audio":{"id":"a1"},"content":7}}]}"#,
        #"{"choices":[{"index":0,"message":{"role":"assistant","content":"message, not delta"},"finish_reason":"length"}]}"#,
        #"{"choices":[{"index":0,"delta":"not an object","finish_reason":"stop","usage":{"prompt_tokens":1,"completion_tokens":2}}]}"#,
        #"{"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":-0.5}],"refusal":null},"seed":4}]}"#,
        #"{"choices":[{"index":0,"logprobs":{"content":[{"token":"b","logprob":-0.25}]},"seed":null}]}"#,
        #"{"choices":[{"index":3,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}]}"#,
        #"{"choices":[{"index":1,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}]}"#,
        #"{"obfuscation":"pad","object":"x","service_tier":"default","choices":[{"index":0,"delta":{"content":" tail"}}]}"#,
        #"{"service_tier":"scale","choices":[{"index":0,"delta":{}}],"extra":{"nested":[1,2,{"k":"v"}]}}"#,
        "  {\n \"choices\" : [ { \"index\" : 0 , \"delta\" : { \"content\" : \"spaced\" } } ] , \"model\" : \"m3\" }\n",
        #"{"model":"m3","choices":[{"index":0,"delta":{"content":"same model as spaced"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"\u0000\u001f control"}}]}"#,
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"raw control\ttab\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bad utf8 \u{FFFD}\"}}]}",
        #"{"choices":[{"index":0,"delta":{"content":"unterminated}}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"x"}}]} trailing"#,
        #"[{"choices":[]}]"#,
        #""just a string""#,
        "",
        #"{"choices":[{"index":0,"delta":{"content":"num"}}],"created":01}"#,
        #"{"choices":[{"index":-0,"delta":{"content":"minus zero"}}]}"#,
        #"{"choices":[{"index":12345678901234567890,"delta":{"content":"huge index"}}]}"#,
    ]

    @Test(arguments: 0..<400)
    func oddChunksMergeTheSameBothWays(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed) &* 7_919 &+ 101)
        let n = Int.random(in: 1...12, using: &rng)
        bothWays((0..<n).map { _ in Self.odd.randomElement(using: &rng)! })
    }

    @Test func eachOddChunkAloneAndInvalidUTF8() {
        for chunk in Self.odd { bothWays([chunk]) }
        // Invalid UTF-8 inside a string: the parser rejects the chunk, so must the byte path.
        var bytes = Array(#"{"choices":[{"index":0,"delta":{"content":"ab"}}]}"#.utf8)
        bytes.insert(0xC3, at: bytes.count - 7)
        var merger = CompletionMerger()
        #expect(throws: JSONError.self) { try bytes.withUnsafeBufferPointer { try merger.add(json: $0) } }
        #expect(merger.chunkCount == 0)
        for bad: [UInt8] in [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]] {
            var chunk = Array(#"{"choices":[{"index":0,"delta":{"content":""#.utf8) + bad
            chunk += Array(#""}}]}"#.utf8)
            #expect((try? JSONValue.parse(chunk)) == nil)
            #expect(throws: JSONError.self) { try chunk.withUnsafeBufferPointer { try merger.add(json: $0) } }
        }
        #expect(merger.chunkCount == 0)
    }

    @Test func streamChunkOutcomesAndObservers() {
        var merger = CompletionMerger()
        var texts: [String] = []
        var choices: [String] = []
        func add(_ s: String) -> CompletionMerger.StreamChunk {
            var s = s
            return s.withUTF8 { data in
                merger.add(streamChunk: data,
                           onChoice: { choices.append("\($0):\($1)") },
                           onText: { texts.append("\($0)\($1 ? "r" : "c"):" + String(decoding: $2, as: UTF8.self)) })
            }
        }
        #expect(add(#"{"error":{"message":"overloaded"},"choices":[]}"#) == .error(["message": "overloaded"]))
        #expect(add(#"{"id":"x"}"#) == .notACompletionChunk)
        #expect(add(#"[1]"#) == .notACompletionChunk)
        #expect(add(#"{"choices":"#) == .invalid)
        #expect(merger.chunkCount == 0 && texts.isEmpty)
        #expect(add(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#) == .merged(hasOutput: false))
        #expect(add(#"{"choices":[{"index":0,"delta":{"reasoning_content":"hm\u00e9"}},{"index":1,"delta":{"content":"a\nb"},"finish_reason":"stop"}]}"#)
                == .merged(hasOutput: true))
        #expect(add(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}"#) == .merged(hasOutput: true))
        #expect(add(#"{"choices":[{"index":0,"delta":{"refusal":"no"}}]}"#) == .merged(hasOutput: false))
        // Slow path (duplicate key): the same observer calls.
        #expect(add(#"{"choices":[{"index":0,"delta":{"content":"x","content":"dup"}}],"choices":[{"index":2,"delta":{"content":"last"}}]}"#)
                == .merged(hasOutput: true))
        #expect(texts == ["0r:hmé", "1c:a\nb", "2c:last"])
        #expect(choices == ["0:false", "0:false", "1:true", "0:false", "0:false", "2:false"])
        #expect(merger.chunkCount == 5)
    }

    @Test func sseParserPullReadingMatchesFeed() {
        var rng = SplitMix64(seed: 99)
        let stream = Array("\u{FEFF}: hi\n\nevent: e\r\ndata: a\rdata:b\n\n\n\ndata: {\"x\":1}\r\n\r\nid: 7\ndata: last".utf8)
        for _ in 0..<200 {
            var fed = SSEParser()
            var pulled = SSEParser()
            var a: [SSEEvent] = []
            var b: [(String, Int, Bool, [UInt8])] = []
            var at = 0
            while at < stream.count {
                let n = Int.random(in: 1...7, using: &rng)
                let piece = stream[at..<min(stream.count, at + n)]
                a += fed.feed(piece)
                pulled.append(piece)
                while let found = pulled.next() {
                    b.append((pulled.withData { String(decoding: $0, as: UTF8.self) }, found.rawCount, found.hasData,
                              pulled.withRaw(found) { Array($0) }))
                }
                at += n
            }
            #expect(a.map(\.data) == b.map(\.0))
            #expect(a.map(\.raw.count) == b.map(\.1))
            #expect(a.map(\.hasData) == b.map(\.2))
            #expect(a.map(\.raw) == b.map(\.3))
            #expect(fed.finish()?.data == pulled.finish()?.data)
        }
    }
}
