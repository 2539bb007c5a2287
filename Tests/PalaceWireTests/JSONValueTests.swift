import Testing
@testable import PalaceWire

@Suite struct JSONValueTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x"}"#,
        #"{"z":1,"a":2,"m":{"y":[],"x":{}}}"#,
        #"[1.50,-0,1e10,2E-3,12345678901234567890123,0.1]"#,
        #""中文 😀 <b>&amp; a/b""#,
        #"{"q":"say \"hi\"\n\ttab\\ \u0001"}"#,
        "[]", "{}", "0", "null", "true", #""""#,
    ])
    func compactRoundTripIsByteExact(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == text)
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(try JSONValue.parse(value.serialized(pretty: true)) == value)
    }

    @Test func numbersKeepTheirText() throws {
        let v = try JSONValue.parse("[1.50, 1e2, -0.0, 9007199254740993]")
        #expect(v[0]?.numberText == "1.50")
        #expect(v[1]?.intValue == 100)
        #expect(v[3]?.intValue == 9007199254740993)
        #expect(v[0]?.doubleValue == 1.5)
        #expect(v[0]?.intValue == nil)
    }

    @Test func objectKeepsOrderAndDuplicateKeyKeepsFirstPositionLastValue() throws {
        let v = try JSONValue.parse(#"{"b":1,"a":2,"b":3}"#)
        #expect(v.objectValue?.keys == ["b", "a"])
        #expect(v["b"] == 3)
        #expect(v.serialized() == #"{"b":3,"a":2}"#)
    }

    @Test func duplicateKeysInLargeParsedObjects() throws {
        var text = "{"
        for i in 0..<20 { text += "\"k\(i)\":\(i)," }
        text += "\"k3\":\"three\",\"k15\":\"fifteen\",\"k20\":20}"
        let v = try JSONValue.parse(text)
        #expect(v.objectValue?.keys == (0...20).map { "k\($0)" })
        #expect(v["k3"] == "three" && v["k15"] == "fifteen" && v["k19"] == 19 && v["k20"] == 20)
    }

    @Test func largeObjectsUseTheHashedIndex() throws {
        var o = JSONObject()
        for i in 0..<100 { o["k\(i)"] = .number(i) }
        #expect(o["k77"] == 77)
        o.removeValue(forKey: "k10")
        #expect(o["k11"] == 11 && o["k10"] == nil && o.count == 99)
        o["k11"] = "x"
        #expect(o.keys[10] == "k11" && o["k11"] == "x")
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let v = try JSONValue.parse(#""\u4e2d\u6587 \ud83d\ude00 \/ \b\f\n\r\t \u0041""#)
        #expect(v.stringValue == "中文 😀 / \u{08}\u{0C}\n\r\t A")
        #expect(try JSONValue.parse(#""\ud800x""#).stringValue == "\u{FFFD}x")
        #expect(try JSONValue.parse(#""\udc00\ud800\u0041""#).stringValue == "\u{FFFD}\u{FFFD}A")
    }

    @Test func serializerEscapesOnlyWhatJSONRequires() {
        let v: JSONValue = ["s": "<a href=\"x\">&</a> 中文 😀 \u{7F} \u{1F}"]
        #expect(v.serialized() == #"{"s":"<a href=\"x\">&</a> 中文 😀 "# + "\u{7F}" + #" \u001f"}"#)
    }

    @Test func prettyPrinting() {
        let v: JSONValue = ["a": [1, 2], "b": [:], "c": []]
        #expect(v.serialized(pretty: true) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}")
        #expect(v.serialized(pretty: true, indent: 4).contains("\n    \"a\": [\n        1"))
    }

    @Test(arguments: [
        ("", JSONError.Kind.unexpectedEnd, 0),
        ("{\"a\" 1}", .unexpectedByte, 5),
        ("[1,]", .unexpectedByte, 3),
        ("[1 2]", .unexpectedByte, 3),
        ("01", .trailingData, 1),
        ("1.", .invalidNumber, 2),
        ("-", .unexpectedEnd, 1),
        ("1e+", .invalidNumber, 3),
        ("\"abc", .unexpectedEnd, 4),
        ("\"a\\x\"", .invalidEscape, 2),
        ("\"\\u12G4\"", .invalidEscape, 5),
        ("\"a\nb\"", .controlCharacterInString, 2),
        ("tru", .unexpectedEnd, 3),
        ("nul!", .unexpectedByte, 3),
        ("{} x", .trailingData, 3),
        ("{1:2}", .unexpectedByte, 1),
    ])
    func errorsNameTheKindAndByteOffset(text: String, kind: JSONError.Kind, offset: Int) {
        #expect(throws: JSONError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.kind == kind)
            #expect(error.offset == offset)
            #expect(error.description.hasPrefix("JSON: ") && error.description.contains("at byte \(offset)"))
        }
    }

    @Test func invalidUTF8IsRejected() {
        let bytes: [UInt8] = [0x22, 0x61, 0xFF, 0x22]
        #expect { try JSONValue.parse(bytes) } throws: { ($0 as? JSONError)?.kind == .invalidUTF8 }
    }

    @Test func nestingLimitIsAClearError() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        do {
            _ = try JSONValue.parse(deep)
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .tooDeep(limit: 512))
            #expect(error.description.contains("nesting deeper than 512 levels"))
        }
        #expect(try JSONValue.parse(deep, maxDepth: 600).arrayValue?.count == 1)
        #expect(try JSONValue.parse("[[1]]", maxDepth: 2) == [[1]])
        #expect(throws: JSONError.self) { try JSONValue.parse("[[1]]", maxDepth: 1) }
    }

    @Test func pathLookup() throws {
        let v = try JSONValue.parse(#"{"messages":[{"role":"system"},{"role":"user"}],"choices":[{"finish_reason":"stop"}],"m":{"0":"zero"}}"#)
        #expect(v.value(atPath: "choices.0.finish_reason") == "stop")
        #expect(v.value(atPath: "messages.-1.role") == "user")
        #expect(v.value(atPath: "messages.-2.role") == "system")
        #expect(v.value(atPath: "messages.-3.role") == nil)
        #expect(v.value(atPath: "messages.2") == nil)
        #expect(v.value(atPath: "m.0") == "zero")
        #expect(v.value(atPath: [.key("messages"), .index(1), .key("role")]) == "user")
        #expect(v.value(atPath: "choices.0.finish_reason.x") == nil)
        #expect(v.value(atPath: "") == v)
        #expect(JSONPath.parse("a.-1.b") == [.key("a"), .index(-1), .key("b")])
    }

    @Test func equivalenceIgnoresMemberOrder() throws {
        let a = try JSONValue.parse(#"{"a":1,"b":{"x":1,"y":2}}"#)
        let b = try JSONValue.parse(#"{"b":{"y":2,"x":1},"a":1}"#)
        #expect(a != b)
        #expect(a.isEquivalent(to: b))
        #expect(!a.isEquivalent(to: try JSONValue.parse(#"{"a":1,"b":{"x":1}}"#)))
    }

    @Test func parsesBytesFromNonContiguousCollections() throws {
        let bytes = Array(#"{"a":"é"}"#.utf8)
        #expect(try JSONValue.parse(bytes.lazy.map { $0 })["a"] == "é")
        #expect(try JSONValue.parse(bytes[...]) == ["a": "é"])
    }

    @Test func doubleNumbers() {
        #expect(JSONValue.number(1.5) == .number("1.5"))
        #expect(JSONValue.number(3.0) == .number("3"))
        #expect(JSONValue.number(Double.nan) == .null)
        #expect(JSONValue.number(1e-5).doubleValue == 1e-5)
    }
}
