/// Force-stream's request rewrite on the body's bytes: `"stream":true,"stream_options":{"include_usage":true}`
/// appended as the last members of the top-level object, every other byte of the client's body kept as sent.
///
/// Only the usual body qualifies — one JSON document that `JSONScan.validate` accepts (what the parser accepts,
/// with unique unescaped keys) whose top-level object has neither `stream` nor `stream_options`. Anything else is
/// `undecided` and the caller edits the parsed tree (the general rule, which also merges an existing
/// `stream_options` and replaces a `stream: false`/`null`), so both paths agree wherever this one answers.
/// Cost: one validating pass over the body and one copy, no `JSONValue`, no end table (memory stays at the body's
/// size, whatever its size).
public enum StreamRequestEdit: Sendable, Equatable {
    /// The body with the two members appended.
    case rewritten([UInt8])
    /// Valid JSON that is not an object: not a request force-stream can rewrite.
    case notAnObject
    /// Left to the tree path (invalid for the scan, escaped or duplicate keys, `stream`/`stream_options` present).
    case undecided

    static let members = Array(#""stream":true,"stream_options":{"include_usage":true}"#.utf8)

    public static func appendingStreamMembers(_ body: UnsafeBufferPointer<UInt8>) -> StreamRequestEdit {
        let scan = JSONScan(bytes: body)
        var keys: [Range<Int>] = []
        guard scan.validate(keyScratch: &keys) else { return .undecided }
        let start = scan.skipWhitespace(0)
        guard body[start] == UInt8(ascii: "{") else { return .notAnObject }
        var found: [(key: Range<Int>, value: Range<Int>)] = []
        scan.members(start, into: &found)
        for member in found where scan.isKey(member.key, "stream") || scan.isKey(member.key, "stream_options") {
            return .undecided
        }
        let close = scan.skipValue(start) - 1   // the object's `}`
        var out: [UInt8] = []
        out.reserveCapacity(body.count + members.count + 1)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: body[0..<close]))
        if !found.isEmpty { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: members)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: body[close...]))
        return .rewritten(out)
    }
}
