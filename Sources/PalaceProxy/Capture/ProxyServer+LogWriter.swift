import PalaceLog

extension ProxyServer {
    /// The log writer every exchange is recorded with; `moonpalace start` subscribes the index tailer to it
    /// (`LogWriter.subscribe`), so the records it appends reach the index without being read back from the log.
    public var logWriter: LogWriter { context.writer }
}
