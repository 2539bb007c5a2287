import PalaceWire
import Synchronization

/// One uploaded file, kept in memory with its bytes.
struct StoredFile: Sendable {
    var id: String
    var filename: String
    var purpose: String
    var contentType: String
    var createdAt: Int
    var bytes: [UInt8]

    var json: JSONValue {
        JSONResponse.object([
            "id": .string(id), "object": .string("file"), "bytes": JSONResponse.int(bytes.count),
            "created_at": JSONResponse.int(createdAt), "filename": .string(filename), "purpose": .string(purpose),
            "status": .string("ok"), "status_details": .string(""),
        ])
    }

    /// What `GET /v1/files/{id}/content` returns for `file-extract`: the extracted text wrapped in JSON.
    /// The mock "extracts" by decoding the bytes as UTF-8 (invalid sequences become U+FFFD).
    var extractedJSON: JSONValue {
        JSONResponse.object([
            "content": .string(String(decoding: bytes, as: UTF8.self)), "file_type": .string(contentType),
            "filename": .string(filename), "title": .string(""), "type": .string("file"),
        ])
    }
}

/// The in-memory files of one mock server, with the real service's limits. Thread-safe.
final class FileStore: Sendable {
    static let maxFiles = 1000
    static let maxFileBytes = 100 << 20

    private let state = Mutex<(files: [String: StoredFile], order: [String])>(([:], []))

    /// Adds a file, or fails with the real API's message when the count limit is reached.
    func add(_ file: StoredFile) throws(APIError) {
        let added = state.withLock { state -> Bool in
            guard state.order.count < Self.maxFiles else { return false }
            state.files[file.id] = file
            state.order.append(file.id)
            return true
        }
        if !added {
            throw .invalidRequest(
                "number of files \(Self.maxFiles) exceeded the max file count \(Self.maxFiles), please delete some files")
        }
    }

    func file(_ id: String) -> StoredFile? { state.withLock { $0.files[id] } }

    func all() -> [StoredFile] { state.withLock { s in s.order.compactMap { s.files[$0] } } }

    func remove(_ id: String) -> Bool {
        state.withLock {
            guard $0.files.removeValue(forKey: id) != nil else { return false }
            $0.order.removeAll { $0 == id }
            return true
        }
    }
}
