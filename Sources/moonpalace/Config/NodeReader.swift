import Yams

/// Typed reads from a YAML node tree with errors that name the file and line.
struct NodeReader {
    let file: String

    func mapping(_ node: Node, context: String) throws(ConfigError) -> [(key: Node.Scalar, value: Node)] {
        guard let mapping = node.mapping else {
            throw fail(node, "\(context) must be a mapping of keys to values")
        }
        var out: [(key: Node.Scalar, value: Node)] = []
        var seen = Set<String>()
        for (k, v) in mapping {
            guard let key = k.scalar else { throw fail(k, "keys in \(context) must be plain words") }
            guard seen.insert(key.string).inserted else { throw fail(k, "'\(key.string)' appears twice in \(context)") }
            out.append((key, v))
        }
        return out
    }

    func string(_ node: Node, key: String) throws(ConfigError) -> String {
        guard let s = node.scalar else { throw fail(node, "'\(key)' must be a single value") }
        return s.string
    }

    func int(_ node: Node, key: String) throws(ConfigError) -> Int {
        guard let s = node.scalar, let v = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
            throw fail(node, "'\(key)' must be a whole number, got '\(node.scalar?.string ?? "a mapping")'")
        }
        return v
    }

    func double(_ node: Node, key: String) throws(ConfigError) -> Double {
        guard let s = node.scalar, let v = Double(s.string), v.isFinite else {
            throw fail(node, "'\(key)' must be a number, got '\(node.scalar?.string ?? "a mapping")'")
        }
        return v
    }

    func int(_ node: Node, key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let v = try int(node, key: key)
        guard range.contains(v) else {
            throw fail(node, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
        }
        return v
    }

    func double(_ node: Node, key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let v = try double(node, key: key)
        guard range.contains(v) else {
            throw fail(node, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
        }
        return v
    }

    func bool(_ node: Node, key: String) throws(ConfigError) -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, "'\(key)' must be true or false, got '\(node.scalar?.string ?? "a mapping")'")
        }
    }

    func unknown(_ key: Node.Scalar, context: String, known: [String]) -> ConfigError {
        ConfigError(file: file, line: key.mark?.line,
                    message: "unknown key '\(key.string)' in \(context) (known keys: \(known.joined(separator: ", ")))")
    }

    func fail(_ node: Node, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark?.line, message: message)
    }

    private func fail(_ scalar: Node.Scalar, _ message: String) -> ConfigError {
        ConfigError(file: file, line: scalar.mark?.line, message: message)
    }
}
