import SQLite
import WebinarAPI

/// The runner's view of the database: reads pages of jobs in FIFO order and commits state
/// changes with group commit — every change a caller awaits is durable (WAL, `synchronous=FULL`)
/// when the call returns, and changes that arrive together share one transaction and one fsync.
///
/// Runs on its own thread (`DatabaseExecutor`), so blocking SQLite calls never hold up the
/// cooperative pool.
package actor JobStore {
    /// A state change to commit.
    ///
    /// Every job change is one of `JobEvent`'s guarded transitions, taken only while the job
    /// is in a state the event allows and this store holds the database's runner lease:
    /// `commit` returns false when it did not take effect (the job was cancelled, replaced
    /// by a corrected import or settled meanwhile, or the lease is gone), and the runner
    /// drops the job.
    package enum Change: Sendable {
        /// About to send a register call (`claim`): the send time must be on disk first. False:
        /// the call must not be sent.
        case sending(job: Int, at: Double)
        /// Claimed but not sent (the run stopped before the call's slot): queued again.
        case released(job: Int, at: Double)
        /// Registered: the result and `done` in one transaction (`registered` from in flight,
        /// `found` from uncertain, by `source`).
        case done(job: Int, attempts: Int, user: RegisteredUser, source: ResultSource, at: Double)
        /// Permanently failed with the API's (or our) message: `refused`, `targetMissing` or `gaveUp`.
        case failed(job: Int, attempts: Int, message: String, at: Double, event: JobEvent = .refused)
        /// Back in the queue after a call (`postponed`; its wait is the runner's, in memory: a
        /// later run may send it at once), or, with `claimed: false`, trouble before any call
        /// of the job (`deferred`: the state stays, the note changes).
        case requeued(job: Int, attempts: Int, lastError: String?, at: Double, claimed: Bool = true)
        /// The last call may have reached the vendor: check `registrants` before re-sending.
        case uncertain(job: Int, attempts: Int, sentAt: Double, lastError: String, at: Double)
        /// The outcome of a preflight `webinar` check.
        case target(Target, ok: Bool, message: String?, at: Double)
    }

    /// How the URLs were learned.
    package enum ResultSource: String, Sendable {
        case register
        case registrants
    }

    private let executor: DatabaseExecutor
    package nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let connection: Connection
    private let path: String
    private var pending: [(Change, CheckedContinuation<Bool, any Error>?)] = []
    private let maps: ImportMaps
    private var flushScheduled = false
    /// The runner lease this store took (`acquireLease`): runner events are guarded by it.
    private var lease: Int64?
    /// Wait for another writer (an import of millions of rows, a `sqlite3` shell) for as long
    /// as it holds the database, instead of failing after the busy timeout (the runner's store).
    private let waitsForWriters: Bool
    private var onWait: (@Sendable (_ waiting: Bool) -> Void)?
    private var waiting = false
    /// Calls recorded since the last transaction: written with the next change (no fsync of
    /// their own), or on their own once `historyBatch` are waiting.
    private var calls: [CallRecord] = []
    static let historyBatch = 512

    /// Opens the database at `path` (it must exist).
    /// - Parameter waitsForWriters: a busy database (another process writing) is waited for
    ///   as long as it stays busy, not reported as an error after SQLite's busy timeout.
    package init(path: String, waitsForWriters: Bool = false) throws {
        self.path = path
        self.executor = DatabaseExecutor()
        self.waitsForWriters = waitsForWriters
        self.connection = try Database.open(
            path,
            mode: .existing,
            busyTimeoutMilliseconds: waitsForWriters ? 1_000 : 5_000
        )
        self.maps = ImportMaps(connection: connection)
    }

    /// Tells `observer` when a write starts waiting for another process's write transaction
    /// (true), and when it no longer waits (false).
    package func observeWaits(_ observer: @escaping @Sendable (_ waiting: Bool) -> Void) {
        onWait = observer
    }

    /// Marks uncertain jobs whose check cannot settle in this run (ambiguous rows, no live-room
    /// URL): they stay uncertain with the reason, for `status` and `show`.
    @discardableResult
    package func noteUncertain(job: Int, reason: String, at: Double) async throws -> Bool {
        try await patiently {
            try connection.cached(JobEvent.noted.update(set: "error = ?, updated_at = ?", where: "id = ?")).run(
                [.text(reason), .double(at), .int(Int64(job)), .int(lease ?? 0)]
            )
            return connection.changes == 1
        }
    }

    /// Turns jobs left `in_flight` by a dead process into `uncertain`.
    ///
    /// Their stored send time is when the send was decided; the call itself left later, but
    /// no later than the process died, which is before `now`. So `now` is taken as the send
    /// time: verifying `requestTimeout` after it is certain not to race the earlier call.
    package func recoverInFlight(now: Double) async throws -> Int {
        try await patiently {
            try connection.transaction {
                try connection.cached(
                    JobEvent.interrupted.update(
                        set:
                            "sent_at = ?1, error = 'interrupted while the register call was in flight', updated_at = ?1",
                        where: "state = 'in_flight'"
                    )
                ).run([.double(now), .int(lease ?? 0)])
                return connection.changes
            }
        }
    }

    /// Up to `limit` queued jobs with `id > after`, in id order.
    package func queuedPage(after: Int, limit: Int) throws -> [Job] {
        try wrap {
            try jobs(
                where: "state = 'queued' AND id > ? ORDER BY id LIMIT ?",
                [.int(Int64(after)), .int(Int64(limit))]
            )
        }
    }

    /// Every uncertain job, in id order (there are few: at most the in-flight window).
    package func uncertainJobs() throws -> [Job] {
        try wrap { try jobs(where: "state = 'uncertain' ORDER BY id", []) }
    }

    /// Targets already checked in this database.
    package func checkedTargets() throws -> [Target: (ok: Bool, message: String?)] {
        try wrap {
            var out: [Target: (ok: Bool, message: String?)] = [:]
            let q = try connection.cached(
                "SELECT platform, webinar_id, schedule, date, checked_ok, check_message FROM targets WHERE checked_ok IS NOT NULL"
            )
            defer { q.reset() }
            while try q.step() {
                guard let platform = Platform(rawValue: q.text(0) ?? "") else { continue }
                out[Target(platform: platform, webinarID: q.int(1), schedule: q.int(2), date: q.text(3) ?? "")] =
                    (q.int(4) != 0, q.text(5))
            }
            return out
        }
    }

    /// Queued plus uncertain jobs, counted on their partial indexes (no table scan: a run on a
    /// million-job database must reach its first call fast).
    package func openJobs() throws -> Int {
        try wrap {
            let queued = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'queued'") ?? 0
            let uncertain = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'uncertain'") ?? 0
            return Int(queued + uncertain)
        }
    }

    /// What a run starts from, read in one transaction (one snapshot): the open jobs (queued +
    /// uncertain), the highest job id (jobs imported later have higher ones), and how many are
    /// done and failed. Counted on indexes only: a million-job database reaches its first call fast.
    package func startFigures() throws -> (open: Int, lastJob: Int, done: Int, failed: Int) {
        try wrap {
            try connection.transaction(.deferred) {
                let queued = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'queued'") ?? 0
                let uncertain = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'uncertain'") ?? 0
                let last = try connection.scalarInt("SELECT max(id) FROM jobs") ?? 0
                let done = try connection.scalarInt("SELECT count(*) FROM results") ?? 0
                let failed = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'failed'") ?? 0
                return (Int(queued + uncertain), Int(last), Int(done), Int(failed))
            }
        }
    }

    /// Counts per state.
    package func counts() throws -> [JobState: Int] {
        try wrap {
            var out: [JobState: Int] = [:]
            let q = try connection.cached("SELECT state, count(*) FROM jobs GROUP BY state")
            defer { q.reset() }
            while try q.step() {
                if let s = JobState(rawValue: q.text(0) ?? "") { out[s] = q.int(1) }
            }
            return out
        }
    }

    /// Commits `change`; returns once it is durable. False only for a `.sending` that did not
    /// take effect (the job is no longer claimable, or the lease is gone).
    @discardableResult
    package func commit(_ change: Change) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((change, continuation))
            scheduleFlush()
        }
    }

    // MARK: Lease

    /// The runner's lease: one runner per database, held in the database itself.
    ///
    /// Taken in a write transaction; refused while another live process holds it with a fresh
    /// heartbeat, whatever path or lock file it used. A dead holder's lease (its pid gone, or
    /// its heartbeat older than `staleAfter`) is taken over. Returns the new lease's token,
    /// which guards every runner event (`JobEvent.Transition.runner`).
    ///
    /// A holder on this host is alive when its pid is and is not a zombie (a killed run its
    /// parent has not reaped: `kill(pid, 0)` succeeds on it; `LeaseProcess.isAlive` reads its
    /// state in `/proc`). A holder on another host is judged by its heartbeat alone.
    package func acquireLease(
        pid: Int32,
        host: String,
        now: Double,
        staleAfter: Double = 30
    ) async throws -> Int64 {
        let token = try await patiently {
            try connection.transaction(.immediate) {
                let q = try connection.cached(
                    "SELECT pid, host, started_at, heartbeat_at FROM runner_lease WHERE id = 1"
                )
                defer { q.reset() }
                if try q.step() {
                    let holder = Int32(q.int(0))
                    let holderHost = q.text(1) ?? ""
                    let started = q.double(2)
                    let heartbeat = q.double(3)
                    let fresh = now - heartbeat < staleAfter && heartbeat - now < staleAfter
                    let alive = holderHost != host || LeaseProcess.isAlive(holder)
                    if holder != pid || holderHost != host, fresh, alive {
                        throw BulkRegError(
                            .storage,
                            "\(path): another bulkreg is running on this database (pid \(holder)"
                                + (holderHost == host ? "" : " on \(holderHost)")
                                + ", since \(WallClock.iso8601(started))). Wait for it to finish or stop it; one runner per database."
                        )
                    }
                }
                q.reset()
                let token = Int64.random(in: 1...Int64.max)
                try connection.cached(
                    "INSERT OR REPLACE INTO runner_lease (id, token, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?)"
                ).run([.int(token), .int(Int64(pid)), .text(host), .double(now), .double(now)])
                return token
            }
        }
        lease = token
        return token
    }

    /// Refreshes the lease's heartbeat; false when the lease is no longer ours.
    @discardableResult
    package func heartbeat(lease: Int64, now: Double) async throws -> Bool {
        try await patiently {
            try connection.cached("UPDATE runner_lease SET heartbeat_at = ? WHERE id = 1 AND token = ?").run([
                .double(now), .int(lease),
            ])
            return connection.changes == 1
        }
    }

    /// Gives the lease up (the end of a run).
    package func releaseLease(_ lease: Int64) async throws {
        try await patiently {
            try connection.cached("DELETE FROM runner_lease WHERE id = 1 AND token = ?").run([.int(lease)])
        }
        if self.lease == lease { self.lease = nil }
    }

    /// The live lease's holder, if a runner holds one (for commands that must not change jobs
    /// under a running runner).
    package func leaseHolder(now: Double, staleAfter: Double = 30) throws -> (pid: Int32, host: String)? {
        try Self.leaseHolder(connection, now: now, staleAfter: staleAfter)
    }

    static func leaseHolder(
        _ connection: Connection,
        now: Double,
        staleAfter: Double = 30
    ) throws(SQLiteError) -> (
        pid: Int32, host: String
    )? {
        let q = try connection.cached("SELECT pid, host, heartbeat_at FROM runner_lease WHERE id = 1")
        defer { q.reset() }
        guard try q.step() else { return nil }
        let pid = Int32(q.int(0))
        let host = q.text(1) ?? ""
        let fresh = now - q.double(2) < staleAfter
        guard fresh, host != LeaseProcess.hostName || LeaseProcess.isAlive(pid) else { return nil }
        return (pid, host)
    }

    // MARK: Retry

    /// What `retry` did.
    package struct RetryResult: Sendable, Equatable {
        /// Back in the queue.
        package var queued = 0
        /// Their last call may have reached the vendor: checked with `registrants` first.
        package var toCheck = 0
        /// Sent again without a check (`--force` on an uncertain job).
        package var forced = 0
    }

    /// Puts failed jobs (all, or one) back in the queue. A job whose last call may have
    /// reached the vendor is never re-queued blind: it becomes `uncertain` (checked first),
    /// unless `force` is given for one job.
    package func retry(job: Int?, force: Bool, now: Double) throws -> RetryResult {
        try wrap {
            try connection.transaction(.immediate) {
                if let holder = try Self.leaseHolder(connection, now: now) {
                    throw BulkRegError(
                        .usage,
                        "\(path): a run is in progress (pid \(holder.pid)); retry when it has finished."
                    )
                }
                var result = RetryResult()
                func back(_ condition: String) -> String {
                    JobEvent.retry.update(
                        set:
                            "attempts = CASE WHEN maybe_sent = 1 THEN attempts ELSE 0 END, not_before = NULL, updated_at = ?",
                        where: condition
                    )
                }
                let forced = JobEvent.forceRetry.update(
                    set: "maybe_sent = 0, attempts = 0, updated_at = ?",
                    where: "id = ?"
                )
                if let job {
                    let q = try connection.cached("SELECT state, maybe_sent FROM jobs WHERE id = ?")
                    try q.bind([.int(Int64(job))])
                    let found = try q.step()
                    let state = found ? JobState(rawValue: q.text(0) ?? "") : nil
                    let maybeSent = found && q.int(1) != 0
                    q.reset()
                    switch state {
                    case .failed?:
                        if force && maybeSent {
                            try connection.cached(forced).run([.double(now), .int(Int64(job))])
                            result.forced = 1
                        } else {
                            try connection.cached(back("id = ?")).run([.double(now), .int(Int64(job))])
                            if maybeSent { result.toCheck = 1 } else { result.queued = 1 }
                        }
                    case .uncertain?:
                        guard force else {
                            throw BulkRegError(
                                .usage,
                                "job \(job) is uncertain: its last call may have registered the person, so the next "
                                    + "`bulkreg run` checks with the vendor before sending it again. "
                                    + "`bulkreg retry --job \(job) --force` sends it without checking, which may register "
                                    + "the person twice."
                            )
                        }
                        try connection.cached(forced).run([.double(now), .int(Int64(job))])
                        result.forced = 1
                    default:
                        throw BulkRegError(
                            .usage,
                            "job \(job) is not failed or uncertain (or does not exist); nothing requeued"
                        )
                    }
                } else {
                    result.toCheck = Int(
                        try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'failed' AND maybe_sent = 1")
                            ?? 0
                    )
                    try connection.cached(back("state = 'failed'")).run([.double(now)])
                    result.queued = connection.changes - result.toCheck
                }
                // A failed preflight is re-checked on the next run.
                try connection.execute(
                    "UPDATE targets SET checked_ok = NULL, check_message = NULL WHERE checked_ok = 0"
                )
                return result
            }
        }
    }

    // MARK: Cancel

    /// Which jobs `cancel` is about.
    package enum Selection: Sendable, Equatable {
        case importID(Int)
        case job(Int)
        /// Every platform's jobs for this webinar and schedule.
        case target(webinarID: Int, schedule: Int)

        var condition: (sql: String, values: [SQLiteValue]) {
            switch self {
            case .importID(let id): return ("import_id = ?", [.int(id)])
            case .job(let id): return ("id = ?", [.int(id)])
            case .target(let webinar, let schedule):
                return (
                    "target_id IN (SELECT id FROM targets WHERE webinar_id = ? AND schedule = ?)",
                    [.int(webinar), .int(schedule)]
                )
            }
        }
    }

    /// What `cancel` did, and what it left alone.
    package struct CancelResult: Sendable, Equatable {
        package var cancelled = 0
        /// Selected jobs in another state, by state (done, uncertain, in_flight, ...).
        package var untouched: [JobState: Int] = [:]
    }

    /// Takes the selected queued and failed jobs out of the queue (`cancelled`); never done,
    /// uncertain or in-flight ones. Safe during a run: a job the runner has already claimed
    /// is in flight and left alone, and a cancelled one cannot be claimed.
    package func cancel(_ selection: Selection, now: Double) throws -> CancelResult {
        try wrap {
            try connection.transaction(.immediate) {
                let (condition, values) = selection.condition
                var result = CancelResult()
                let count = try connection.prepare("SELECT state, count(*) FROM jobs WHERE \(condition) GROUP BY state")
                try count.bind(values)
                var any = false
                while try count.step() {
                    any = true
                    guard let state = JobState(rawValue: count.text(0) ?? ""), state != .queued, state != .failed else {
                        continue
                    }
                    result.untouched[state] = count.int(1)
                }
                if !any {
                    switch selection {
                    case .importID(let id): throw BulkRegError(.usage, "\(path): no import #\(id); nothing cancelled")
                    case .job(let id): throw BulkRegError(.usage, "\(path): no job \(id); nothing cancelled")
                    case .target(let w, let s):
                        throw BulkRegError(.usage, "\(path): no jobs for webinar \(w) schedule \(s); nothing cancelled")
                    }
                }
                try connection.prepare(
                    JobEvent.cancel.update(set: "not_before = NULL, updated_at = ?", where: condition)
                ).run([.double(now)] + values)
                result.cancelled = connection.changes
                return result
            }
        }
    }

    /// Other jobs of the same person for the same webinar and schedule on another (EverWebinar)
    /// session date, that may be registered: the check cannot tell them apart from `job` when
    /// the vendor's rows carry no date.
    package func siblings(of job: Job) throws -> [Int] {
        try wrap {
            let target = job.target
            let dates = try connection.cached(
                "SELECT date FROM targets WHERE platform = ? AND webinar_id = ? AND schedule = ? AND date != ?"
            )
            try dates.bind([
                .text(target.platform.rawValue), .int(Int64(target.webinarID)), .int(Int64(target.schedule)),
                .text(target.date),
            ])
            var others: [String] = []
            while try dates.step() { others.append(dates.text(0) ?? "") }
            dates.reset()
            var out: [Int] = []
            let find = try connection.cached(
                "SELECT id FROM jobs WHERE person = ? AND state IN ('done', 'uncertain', 'in_flight')"
            )
            for date in others {
                var sibling = target
                sibling.date = date
                try find.bind([.int(PersonKey.of(sibling, email: job.request.email))])
                while try find.step() { out.append(find.int(0)) }
                find.reset()
            }
            return out
        }
    }

    /// Records a call in the history. It is written in the transaction of the next change
    /// committed (record a call before committing the change it led to, and both land
    /// together), at `flushHistory()`, or on its own once many wait.
    package func record(_ call: CallRecord) {
        calls.append(call)
        if calls.count >= Self.historyBatch { scheduleFlush() }
    }

    /// Writes the calls still waiting for a transaction (at the end of a run).
    package func flushHistory() throws {
        guard !calls.isEmpty else { return }
        try wrap { try connection.transaction { try writeCalls() } }
    }

    private func writeCalls() throws {
        try CallLog.insert(calls, into: connection)
        calls.removeAll(keepingCapacity: true)
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { self.flush() }
    }

    private func flush() {
        flushScheduled = false
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        guard !batch.isEmpty || !calls.isEmpty else { return }
        let recorded = calls
        do {
            let applied = try connection.transaction {
                try writeCalls()
                return try batch.map { try apply($0.0) }
            }
            stoppedWaiting()
            for ((_, continuation), took) in zip(batch, applied) { continuation?.resume(returning: took) }
        } catch {
            calls = recorded  // rolled back: kept for the next transaction
            if waitsForWriters, let sqlite = error as? SQLiteError, Self.isBusy(sqlite) {
                // Another process writes: the whole batch waits for it (nobody's call is sent
                // before its intent is committed), and is tried again.
                startedWaiting()
                pending.insert(contentsOf: batch, at: 0)
                flushScheduled = true
                Task {
                    try? await Task.sleep(for: .milliseconds(50))
                    self.flush()
                }
                return
            }
            let failure: any Error =
                (error as? SQLiteError).map { Database.storageError($0, path: path) } ?? error
            for (_, continuation) in batch { continuation?.resume(throwing: failure) }
        }
    }

    /// One change, as its event's guarded statement; false when the job was not in a state
    /// the event allows (or the lease is not ours).
    private func apply(_ change: Change) throws -> Bool {
        let lease = SQLiteValue.int(self.lease ?? 0)
        func run(_ event: JobEvent, set: String, _ values: [SQLiteValue]) throws -> Bool {
            try connection.cached(event.update(set: set, where: "id = ?")).run(values + [lease])
            return connection.changes == 1
        }
        switch change {
        case .sending(let job, let at):
            return try run(
                .claim,
                set: "maybe_sent = 1, sent_at = ?, updated_at = ?",
                [.double(at), .double(at), .int(Int64(job))]
            )
        case .released(let job, let at):
            return try run(.release, set: "maybe_sent = 0, updated_at = ?", [.double(at), .int(Int64(job))])
        case .done(let job, let attempts, let user, let source, let at):
            let event: JobEvent = source == .register ? .registered : .found
            guard
                try run(
                    event,
                    set: "attempts = ?, error = NULL, not_before = NULL, updated_at = ?",
                    [.int(Int64(attempts)), .double(at), .int(Int64(job))]
                )
            else { return false }
            try connection.cached(
                """
                INSERT OR REPLACE INTO results (job_id, user_id, live_room_url, replay_room_url, thank_you_url,
                    password, date, timezone, source, registered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            ).run([
                .int(Int64(job)), .int(user.userID), .text(user.liveRoomURL), .text(user.replayRoomURL),
                .text(user.thankYouURL), .text(user.password), .text(user.date), .text(user.timezone),
                .text(source.rawValue), .double(at),
            ])
            return true
        case .failed(let job, let attempts, let message, let at, let event):
            return try run(
                event,
                set: "maybe_sent = 0, attempts = ?, error = ?, not_before = NULL, updated_at = ?",
                [.int(Int64(attempts)), .text(message), .double(at), .int(Int64(job))]
            )
        case .requeued(let job, let attempts, let lastError, let at, let claimed):
            return try run(
                claimed ? .postponed : .deferred,
                set: claimed
                    ? "maybe_sent = 0, attempts = ?, error = ?, updated_at = ?"
                    : "attempts = ?, error = ?, updated_at = ?",
                [.int(Int64(attempts)), .text(lastError), .double(at), .int(Int64(job))]
            )
        case .uncertain(let job, let attempts, let sentAt, let lastError, let at):
            return try run(
                .maybeSent,
                set: "attempts = ?, sent_at = ?, error = ?, updated_at = ?",
                [.int(Int64(attempts)), .double(sentAt), .text(lastError), .double(at), .int(Int64(job))]
            )
        case .target(let target, let ok, let message, let at):
            try connection.cached(
                """
                UPDATE targets SET checked_ok = ?, check_message = ?, checked_at = ?
                WHERE platform = ? AND webinar_id = ? AND schedule = ? AND date = ?
                """
            ).run([
                .int(ok ? 1 : 0), .text(message), .double(at), .text(target.platform.rawValue),
                .int(Int64(target.webinarID)), .int(Int64(target.schedule)), .text(target.date),
            ])
            return true
        }
    }

    // MARK: Waiting for other writers

    static func isBusy(_ error: SQLiteError) -> Bool {
        error.code.primary == .busy || error.code.primary == .locked
    }

    /// Runs `body` (one statement or transaction); with `waitsForWriters`, a busy database is
    /// tried again for as long as another process holds it.
    private func patiently<T>(_ body: () throws -> T) async throws -> T {
        while true {
            do {
                let value = try body()
                stoppedWaiting()
                return value
            } catch let error as SQLiteError {
                guard waitsForWriters, Self.isBusy(error) else { throw Database.storageError(error, path: path) }
                startedWaiting()
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    private func startedWaiting() {
        guard !waiting else { return }
        waiting = true
        onWait?(true)
    }

    private func stoppedWaiting() {
        guard waiting else { return }
        waiting = false
        onWait?(false)
    }

    /// The columns a `Job` is read from: the select list and each value's position come from
    /// this one list, so a column is added here (and in a migration), nowhere else.
    enum JobColumn: Int32, CaseIterable {
        case id, line, importID, row, attempts, sentAt, state, error

        var name: String {
            switch self {
            case .importID: return "import_id"
            case .sentAt: return "sent_at"
            default: return "\(self)"
            }
        }

        static let selectList = allCases.map(\.name).joined(separator: ", ")
    }

    private func jobs(where condition: String, _ values: [SQLiteValue]) throws -> [Job] {
        let q = try connection.cached("SELECT \(JobColumn.selectList) FROM jobs WHERE \(condition)")
        defer { q.reset() }
        try q.bind(values)
        var out: [Job] = []
        while try q.step() {
            let row = q.withBlob(JobColumn.row.rawValue) { RowCodec.decode($0) }
            let request = try maps.lead(import: q.int(JobColumn.importID.rawValue), row: row).request
            out.append(
                Job(
                    id: q.int(JobColumn.id.rawValue),
                    line: q.int(JobColumn.line.rawValue),
                    request: request,
                    attempts: q.int(JobColumn.attempts.rawValue),
                    sentAt: q.optionalDouble(JobColumn.sentAt.rawValue),
                    state: JobState(rawValue: q.text(JobColumn.state.rawValue) ?? "") ?? .queued,
                    lastError: q.text(JobColumn.error.rawValue)
                )
            )
        }
        return out
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw Database.storageError(error, path: path)
        }
    }
}
