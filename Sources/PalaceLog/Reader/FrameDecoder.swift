/// Turns a verified frame into a `StoredRecord`: decompresses and decodes the payload.
enum FrameDecoder {
    /// The record in `frame` (header + stored payload, CRC already verified), or nil for a record type
    /// written by a newer version (to be skipped). `scratch` is a reusable decompression buffer.
    static func decode(_ h: FrameHeader, frame: UnsafeRawBufferPointer, position: RecordPosition,
                       scratch: inout [UInt8]) throws(LogError) -> StoredRecord? {
        guard let type = RecordType(rawValue: h.type) else { return nil }
        let stored = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size..<h.frameLength])
        do {
            let record = try LZ4Codec.decode(stored, codec: h.codec, dictionaryID: h.dictionaryID,
                                             rawLength: Int(h.rawLength), scratch: &scratch) { payload in
                try PayloadDecoder.decode(type: type, exchangeID: h.exchangeID, payload: payload)
            }
            return StoredRecord(sequence: h.sequence, timestamp: h.timestamp, position: position, record: record)
        } catch let e as LZ4Codec.DecodeFailure {
            switch e {
            case .unknownCodec(let c): throw .unknownCodec(codec: c, position: position)
            case .unknownDictionary(let d): throw .unknownDictionary(id: d, position: position)
            case .corrupt(let why): throw .corruptRecord(position: position, reason: why)
            }
        } catch let e as PayloadDecoder.Failure {
            throw .corruptRecord(position: position, reason: e.reason)
        } catch {
            throw .corruptRecord(position: position, reason: "\(error)")
        }
    }

    /// Decompresses without decoding: calls `body` with the raw payload bytes.
    static func payload<R>(_ h: FrameHeader, frame: UnsafeRawBufferPointer, position: RecordPosition,
                           scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) -> R) throws(LogError) -> R {
        let stored = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size..<h.frameLength])
        do {
            return try LZ4Codec.decode(stored, codec: h.codec, dictionaryID: h.dictionaryID,
                                       rawLength: Int(h.rawLength), scratch: &scratch, body)
        } catch let e as LZ4Codec.DecodeFailure {
            switch e {
            case .unknownCodec(let c): throw .unknownCodec(codec: c, position: position)
            case .unknownDictionary(let d): throw .unknownDictionary(id: d, position: position)
            case .corrupt(let why): throw .corruptRecord(position: position, reason: why)
            }
        } catch {
            throw .corruptRecord(position: position, reason: "\(error)")
        }
    }
}
