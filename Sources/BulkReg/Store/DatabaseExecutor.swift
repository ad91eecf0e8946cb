import Foundation

/// A serial executor backed by one dedicated thread, for the actor that owns the SQLite
/// connection: blocking SQLite calls and `fsync`s then never occupy the cooperative pool's
/// threads (two on a two-core machine), which the network and the workers need.
///
/// The thread owns only the job queue, never the executor: when the executor goes away (its
/// actor was released), the queue is closed and the thread ends once it is empty.
final class DatabaseExecutor: SerialExecutor, @unchecked Sendable {
    private let queue = JobQueue()

    init(name: String = "bulkreg.db") {
        let queue = self.queue
        let thread = Thread { queue.drain() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { queue.close() }

    func enqueue(_ job: consuming ExecutorJob) {
        queue.push(UnownedJob(job), on: asUnownedSerialExecutor())
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}

/// The jobs waiting for the database thread.
private final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [(UnownedJob, UnownedSerialExecutor)] = []
    private var closed = false

    func push(_ job: UnownedJob, on executor: UnownedSerialExecutor) {
        condition.lock()
        jobs.append((job, executor))
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs until closed and empty.
    func drain() {
        var batch: [(UnownedJob, UnownedSerialExecutor)] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !closed { condition.wait() }
            if jobs.isEmpty && closed {
                condition.unlock()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for (job, executor) in batch { job.runSynchronously(on: executor) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
