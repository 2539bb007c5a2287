/// A parsed `multipart/form-data` body (RFC 7578), enough for `POST /v1/files`.
///
/// Invariant: part contents are the exact bytes between the part's header block and the next delimiter
/// (the CRLF before the delimiter is not part of the content).
struct MultipartForm: Sendable {
    struct Part: Sendable {
        var name: String
        var filename: String?
        var contentType: String?
        var content: [UInt8]
    }

    var parts: [Part]

    func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary parameter of a `multipart/form-data` content type, unquoted.
    static func boundary(contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                var value = pair[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws(APIError) -> MultipartForm {
        let delimiter = Array(("--" + boundary).utf8)
        guard var position = find(delimiter, in: body, from: 0) else {
            throw .invalidRequest("multipart body does not contain the boundary '\(boundary)' from its Content-Type")
        }
        var parts: [Part] = []
        let separator = Array("\r\n".utf8) + delimiter
        while true {
            position += delimiter.count
            if body.count >= position + 2 && body[position] == UInt8(ascii: "-") && body[position + 1] == UInt8(ascii: "-") { break }
            guard let lineEnd = find([13, 10], in: body, from: position) else { break }
            let start = lineEnd + 2
            guard let end = find(separator, in: body, from: start) else {
                throw .invalidRequest("multipart body ends inside a part (missing closing boundary)")
            }
            parts.append(try part(Array(body[start..<end])))
            position = end + 2
        }
        return MultipartForm(parts: parts)
    }

    private static func part(_ bytes: [UInt8]) throws(APIError) -> Part {
        guard let split = find([13, 10, 13, 10], in: bytes, from: 0) else {
            throw .invalidRequest("multipart part without a header block")
        }
        let headerText = String(decoding: bytes[..<split], as: UTF8.self)
        var part = Part(name: "", filename: nil, contentType: nil, content: Array(bytes[(split + 4)...]))
        for line in headerText.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = pair[0].lowercased().trimmingCharacters()
            let value = pair[1].trimmingSpaces()
            if name == "content-type" { part.contentType = value }
            if name == "content-disposition" {
                part.name = parameter("name", in: value) ?? ""
                part.filename = parameter("filename", in: value)
            }
        }
        return part
    }

    private static func parameter(_ key: String, in header: String) -> String? {
        for item in header.split(separator: ";") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var match = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }
}
