/// Masks secrets (API keys, bearer tokens) before they are stored or printed.
public enum SecretMask {
    /// Keeps only the last 4 characters of the secret, replacing the others with `*`. A leading auth scheme
    /// (`Bearer `, `Basic `) is kept as is. Secrets of 4 characters or fewer are fully masked.
    /// `"Bearer sk-abcdefghijklmnopwxyz"` → `"Bearer *********************wxyz"`.
    public static func mask(_ secret: String) -> String {
        var scheme = ""
        var token = Substring(secret)
        if let space = secret.firstIndex(of: " ") {
            let word = secret[..<space]
            if !word.isEmpty, word.allSatisfy({ $0.isLetter }) {
                scheme = String(secret[...space])
                token = secret[secret.index(after: space)...]
            }
        }
        let count = token.count
        guard count > 4 else { return scheme + String(repeating: "*", count: count) }
        return scheme + String(repeating: "*", count: count - 4) + token.suffix(4)
    }
}
