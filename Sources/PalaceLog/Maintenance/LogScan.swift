/// Bulk reads for tools and benchmarks.
public enum LogScan {
    /// Reads every frame of every segment on the calling thread, verifying CRCs and decompressing each payload
    /// (without decoding it into a `LogRecord`). Returns the records read, their raw payload bytes, and how many
    /// damaged or undecodable regions were skipped.
    public static func payloads(directory: String) throws(LogError) -> (records: Int, rawBytes: UInt64, damaged: Int) {
        var records = 0, damaged = 0
        var raw: UInt64 = 0
        var scratch: [UInt8] = []
        let bases = try SegmentName.list(directory)
        for (i, base) in bases.enumerated() {
            guard let s = try? SegmentScanner(directory: directory, base: base, isLast: i == bases.count - 1) else {
                damaged += 1; continue
            }
            while let event = s.next() {
                switch event {
                case .frame(let h, let offset, let frame):
                    let position = RecordPosition(segment: base, offset: offset)
                    do {
                        raw += try FrameDecoder.payload(h, frame: frame, position: position, scratch: &scratch) {
                            UInt64($0.count)
                        }
                        records += 1
                    } catch { damaged += 1 }
                case .damage: damaged += 1
                case .tornTail: break
                }
            }
        }
        return (records, raw, damaged)
    }
}

/// Encoding figures without a writer (for `log _bench` and tests).
public enum LogRecordEncoding {
    /// The record's payload size before and after the codec `LogWriter` would apply: LZ4HC when `high` (what the
    /// writer does within `LogWriterOptions.highCompressionBytesPerSecond`), LZ4 fast otherwise.
    public static func sizes(of record: LogRecord, compression: Bool = true,
                             dictionaryID: UInt16 = LogRecordEncoding.currentDictionaryID,
                             high: Bool = true) -> (raw: Int, stored: Int) {
        let payload = PayloadEncoding.encode(record)
        let stored = LZ4Codec.encode(payload, compress: compression, dictionaryID: dictionaryID, high: high)
        return (payload.count, stored.bytes.count)
    }

    /// The id of the dictionary new records are compressed with.
    public static let currentDictionaryID: UInt16 = LZ4Dictionary.currentID
}
