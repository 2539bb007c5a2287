#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread of its own for tasks that block (the index tailer's SQLite catch-up, retention passes): run them with
/// `Task(executorPreference: executor) { … }` and every part of them, also after each `await`, runs on this thread.
///
/// Why: inside `start` the event loops run every Swift task (`ProxyServer.eventLoopsRunTasks`), so a task that
/// blocks for tens of milliseconds would stall every client connection of its event loop; elsewhere (tests, CLI) it
/// would hold one of the cooperative pool's few threads. On this thread it only competes for a CPU like any other
/// thread. Jobs run in the order they were enqueued; the thread lives as long as the process. (pthreads rather than
/// Foundation's Thread: the log and index modules do not link Foundation.)
public final class BlockingWorkExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []

    /// Starts the thread (named `name`, at most 15 bytes kept, as `top -H` and perf show it).
    public init(name: String, niceness: Int32 = 0) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        self.name = Array(name.utf8.prefix(15))
        self.niceness = niceness
        let box = Unmanaged.passRetained(self).toOpaque()   // the thread's reference: it never ends
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let executor = Unmanaged<BlockingWorkExecutor>.fromOpaque(raw!).takeUnretainedValue()
            executor.nameThisThread()
            executor.lowerPriority()
            executor.run()
        }, box)
        precondition(rc == 0, "cannot start a thread (\(rc))")   // only when the process is out of threads
        pthread_detach(thread)
    }

    private let name: [UInt8]
    private let niceness: Int32

    /// Linux: a nice value for this thread only (`setpriority(PRIO_PROCESS, 0)` applies to the calling thread: on
    /// Linux the nice value is per thread).
    private func lowerPriority() {
        #if os(Linux)
        guard niceness != 0 else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }

    /// Linux: the thread's name is its `comm` (pthread_setname_np is not visible to Swift without _GNU_SOURCE).
    private func nameThisThread() {
        #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #endif
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func run() -> Never {
        var batch: [UnownedJob] = []
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty { pthread_cond_wait(condition, mutex) }
            swap(&batch, &jobs)
            pthread_mutex_unlock(mutex)
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
