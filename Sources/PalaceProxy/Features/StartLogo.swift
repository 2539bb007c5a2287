import PalaceLog

extension ProxyServer {
    /// The ASCII-art "MOONPALACE" logo MoonPalace prints under its start banner (reference §5.2). Plain text, no
    /// `[MoonPalace]` prefix, written in one piece so it never interleaves with a log block.
    public func logo() {
        context.log.raw(Self.logoText + "\n")
    }

    static let logoText = #"""
         __  __   ___    ___   _  _  ___    _    _       _     ___  ___
        |  \/  | / _ \  / _ \ | \| || _ \  /_\  | |     /_\   / __|| __|
        | |\/| || (_) || (_) || .` ||  _/ / _ \ | |__  / _ \ | (__ | _|
        |_|  |_| \___/  \___/ |_|\_||_|  /_/ \_\|____|/_/ \_\ \___||___|
        """#
}
