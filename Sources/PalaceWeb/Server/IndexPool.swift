import NIOPosix
import PalaceIndex
import PalaceLog
import Synchronization

/// SQLite connections to the index, lent one at a time to work that runs on NIO's blocking thread pool.
///
/// Why: `ExchangeIndex` is one connection used by one task at a time, and its queries block. Page handlers must
/// not block the cooperative pool (inside `start` it also serves the proxy), so every index call goes through
/// `run`, which hops to `NIOThreadPool.singleton` and borrows an idle connection (opening another when all are
/// busy; at most as many are ever open as the thread pool has threads).
final class IndexPool: Sendable {
    let dataDirectory: DataDirectory
    let notice: @Sendable (String) -> Void
    private let idle = Mutex<[ExchangeIndex]>([])

    init(dataDirectory: DataDirectory, notice: @escaping @Sendable (String) -> Void) {
        self.dataDirectory = dataDirectory
        self.notice = notice
    }

    /// Opens the first connection now, so a damaged or unreadable index is reported at start.
    func prepare() throws {
        let index = try ExchangeIndex(dataDirectory: dataDirectory, notice: notice)
        idle.withLock { $0.append(index) }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (ExchangeIndex) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive {
            let index = try self.take()
            defer { self.idle.withLock { $0.append(index) } }
            return try body(index)
        }
    }

    private func take() throws -> ExchangeIndex {
        if let index = idle.withLock({ $0.popLast() }) { return index }
        return try ExchangeIndex(dataDirectory: dataDirectory, notice: notice)
    }
}
