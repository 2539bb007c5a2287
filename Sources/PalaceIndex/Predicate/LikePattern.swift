/// MoonPalace's LIKE convenience (reference §11.3): without a star at either end the pattern means "contains"
/// (`%p%`); one leading `*` means "ends with", one trailing `*` "starts with"; only one star is converted at each
/// end, inner stars stay literal, and `%`/`_` written by the user keep their LIKE meaning.
public enum LikePattern {
    public static func sql(_ pattern: String) -> String {
        var p = Substring(pattern)
        let leading = p.hasPrefix("*")
        if leading { p = p.dropFirst() }
        let trailing = p.hasSuffix("*")
        if trailing { p = p.dropLast() }
        if !leading && !trailing { return "%" + p + "%" }
        return (leading ? "%" : "") + p + (trailing ? "%" : "")
    }
}
