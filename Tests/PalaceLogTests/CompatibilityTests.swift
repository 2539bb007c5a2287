import Testing
@testable import PalaceLog

/// Forward compatibility and clear errors: what a newer or foreign writer may leave in a log.
@Suite struct CompatibilityTests {
    /// Appends a frame by hand (as a newer version would) to the active segment.
    func appendFrame(_ dir: TempDirectory, type: UInt8, codec: UInt8 = 0, dict: UInt16 = 0, payload: [UInt8],
                     sequence: UInt64) {
        let name = dir.segmentFiles().last!
        var bytes = dir.bytes(name)
        let h = FrameHeader(crc: 0, storedLength: UInt32(payload.count), rawLength: UInt32(payload.count), type: type,
                            codec: codec, dictionaryID: dict, sequence: sequence, exchangeID: 1, timestamp: 0)
        h.write(into: &bytes, payloadCRC: CRC32C.checksum(payload))
        bytes += payload
        dir.write(name, bytes)
    }

    @Test func unknownRecordTypesAndFieldsAreSkipped() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        _ = try await w.appendBegin(Samples.begin(0))
        try await w.close()
        appendFrame(dir, type: 42, payload: [1, 2, 3], sequence: 2)
        // An annotation with unknown fields of every wire type around a known one.
        var t = TLVWriter()
        t.bytes.append(1)
        t.uint(99, 7); t.double(98, 1.5); t.string(97, "future"); t.string(2, "goodcase")
        appendFrame(dir, type: RecordType.annotation.rawValue, payload: t.bytes, sequence: 3)
        let it = try LogReader(directory: dir.path).records()
        let records = Array(it)
        #expect(it.damage.isEmpty && it.skippedUnknown == 1)
        #expect(records.map(\.sequence) == [1, 3])
        #expect(records.last?.record == .annotation(Annotation(exchangeID: 1, category: "goodcase")))
        // A writer continues after them.
        let w2 = try LogWriter.open(directory: dir.path)
        #expect(w2.nextSequence == 4)
        try await w2.close()
    }

    @Test func unknownDictionaryIsAClearError() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        try await w.close()
        appendFrame(dir, type: 1, codec: 1, dict: 777, payload: [0x10, 0x41], sequence: 1)
        let s = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(s.damage.count == 1 && s.damage[0].kind == .undecodable)
        #expect(s.damage[0].reason.contains("dictionary 777") && s.damage[0].reason.contains("upgrade moonpalace"))
        #expect(throws: LogError.unknownDictionary(id: 777, position: RecordPosition(segment: 1, offset: 48))) {
            try LogReader(directory: dir.path).read(at: RecordPosition(segment: 1, offset: 48))
        }
    }

    @Test func newerPayloadVersionIsRefusedForThatRecordOnly() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        try await w.close()
        appendFrame(dir, type: 4, payload: [2, 0x12, 1, 0x41], sequence: 1)
        appendFrame(dir, type: 4, payload: [1, 0x12, 1, 0x41], sequence: 2)
        let it = try LogReader(directory: dir.path).records()
        #expect(Array(it).map(\.sequence) == [2])
        #expect(it.damage.count == 1 && it.damage[0].reason.contains("payload version 2"))
    }

    @Test func incompressibleAndTinyPayloadsAreStoredRaw() {
        let random = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let stored = LZ4Codec.encode(random, compress: true, dictionaryID: 1)
        #expect(stored.codec == .raw || stored.bytes.count < random.count)
        #expect(LZ4Codec.encode([1, 2, 3], compress: true, dictionaryID: 1).codec == .raw)
        let text = Array(String(repeating: "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n", count: 40).utf8)
        let c = LZ4Codec.encode(text, compress: true, dictionaryID: 1)
        #expect(c.codec == .lz4 && c.dictionaryID == 1 && c.bytes.count * 10 < text.count)
    }

    @Test func secretMaskKeepsOnlyTheLastFourCharacters() {
        #expect(SecretMask.mask("Bearer sk-abcdefghijklmnopwxyz") == "Bearer " + String(repeating: "*", count: 19) + "wxyz")
        #expect(SecretMask.mask("sk-1234567890") == "*********7890")
        #expect(SecretMask.mask("abcd") == "****")
        #expect(SecretMask.mask("") == "")
    }

    @Test func recordJSONHasTheDocumentedFields() {
        let s = StoredRecord(sequence: 9, timestamp: 1_763_925_001_500_000, position: RecordPosition(segment: 1, offset: 48),
                             record: .chunk(ExchangeChunk(exchangeID: 4, direction: .response, offset: 2, bytes: [0xFF, 0x00])))
        #expect(RecordJSON.line(s) == #"{"id":9,"type":"chunk","exchange":4,"time":"2025-11-23T19:10:01.500000Z","segment":1,"offset":48,"direction":"response","body_offset":2,"bytes":"/wA=","bytes_encoding":"base64"}"#)
        #expect(RFC3339.format(micros: 0) == "1970-01-01T00:00:00.000000Z")
    }
}
