import Foundation

/// A thread of its own for the tasks of `start` that block (the index tailer's SQLite catch-up, retention passes):
/// run them with `Task(executorPreference: executor) { … }` and every part of them, also after each `await`, runs
/// on this thread.
///
/// Why: inside `start` the event loops run every Swift task (`ProxyServer.eventLoopsRunTasks`), so a task that
/// blocks for tens of milliseconds would stall every client connection of its event loop. On this thread it only
/// competes for a CPU like any other thread. Jobs run in the order they were enqueued; the thread lives as long as
/// the process.
public final class BlockingWorkExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is only touched under `condition`'s lock.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    /// Starts the thread (named `name`, as `top -H` and perf show it).
    public init(name: String) {
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
