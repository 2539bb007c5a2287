import HTTPTypes
import Hummingbird
import PalaceWire

/// `POST /v1/files` (multipart: `file`, `purpose=file-extract`), `GET /v1/files`, `GET /v1/files/{id}`,
/// `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`.
struct FileRoutes: Sendable {
    let gate: Gate
    let state: MockState
    var files: FileStore { state.files }

    func register(on router: Router<MockRequestContext>) {
        router.post("/v1/files") { request, _ in await gate.serve(request) { _ in try await upload(request) } }
        router.get("/v1/files") { request, _ in
            await gate.serve(request) { _ in
                // Oldest first; `after=<id>` continues after that file, `limit` caps the page (default: all).
                var all = files.all()
                let query = request.uri.queryParameters
                if let after = query.get("after"), let position = all.firstIndex(where: { $0.id == after }) {
                    all = Array(all[(position + 1)...])
                }
                let limit = query.get("limit").flatMap { Int($0) }.map { max($0, 1) } ?? all.count
                return JSONResponse.make(JSONResponse.list(all.prefix(limit).map(\.json), hasMore: all.count > limit))
            }
        }
        router.get("/v1/files/{id}") { request, context in
            await gate.serve(request) { _ in try JSONResponse.make(find(context).json) }
        }
        router.get("/v1/files/{id}/content") { request, context in
            await gate.serve(request) { _ in try JSONResponse.make(find(context).extractedJSON) }
        }
        router.delete("/v1/files/{id}") { request, context in
            await gate.serve(request) { _ in
                let id = context.parameters.get("id") ?? ""
                guard files.remove(id) else { throw Self.unknown(id) }
                return JSONResponse.make(JSONResponse.object(["deleted": .bool(true), "id": .string(id), "object": .string("file")]))
            }
        }
    }

    static func unknown(_ id: String) -> APIError { .notFound("File \(id) not found") }

    private func find(_ context: MockRequestContext) throws(APIError) -> StoredFile {
        let id = context.parameters.get("id") ?? ""
        guard let file = files.file(id) else { throw Self.unknown(id) }
        return file
    }

    private func upload(_ request: Request) async throws -> Response {
        guard let contentType = request.headers[.contentType], let boundary = MultipartForm.boundary(contentType: contentType) else {
            throw APIError.invalidRequest("upload files as multipart/form-data with fields 'file' and 'purpose'")
        }
        let body = try await Gate.body(of: request, limit: FileStore.maxFileBytes + (1 << 20))
        let form = try MultipartForm.parse(Array(body.readableBytesView), boundary: boundary)
        let purpose = form.part(named: "purpose").map { String(decoding: $0.content, as: UTF8.self) } ?? ""
        guard purpose == "file-extract" else { throw APIError.invalidRequest("Invalid purpose: only 'file-extract' accepted") }
        guard let part = form.part(named: "file") else {
            throw APIError.invalidRequest("the multipart body has no 'file' part")
        }
        if part.content.isEmpty {
            throw APIError(.badRequest, "invalid_request_error", "File size is zero, please confirm and re-upload the file")
        }
        if part.content.count > FileStore.maxFileBytes {
            throw APIError(.badRequest, "invalid_request_error",
                "File size is too large, max file size is 100MB, please confirm and re-upload the file")
        }
        let file = StoredFile(
            id: Identifiers.file(), filename: part.filename ?? "upload", purpose: purpose,
            contentType: part.contentType ?? "application/octet-stream", createdAt: WallClock.nowSeconds(),
            bytes: part.content)
        try files.add(file)
        return JSONResponse.make(file.json)
    }
}
