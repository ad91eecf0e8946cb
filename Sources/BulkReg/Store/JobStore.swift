import SQLite
import WebinarAPI

/// The runner's view of the database: reads pages of jobs in FIFO order and commits state
/// changes with group commit — every change a caller awaits is durable (WAL, `synchronous=FULL`)
/// when the call returns, and changes that arrive together share one transaction and one fsync.
///
/// Runs on its own thread (`DatabaseExecutor`), so blocking SQLite calls never hold up the
/// cooperative pool.
public actor JobStore {
    /// A state change to commit.
    public enum Change: Sendable {
        /// About to send a register call: the send time must be on disk first.
        case sending(job: Int, at: Double)
        /// Registered: the result and `done` in one transaction.
        case done(job: Int, attempts: Int, user: RegisteredUser, source: ResultSource, at: Double)
        /// Permanently failed with the API's (or our) message.
        case failed(job: Int, attempts: Int, message: String, at: Double)
        /// Back in the queue, not before `notBefore` (wall clock).
        case requeued(job: Int, attempts: Int, notBefore: Double?, lastError: String?, at: Double)
        /// The last call may have reached the vendor: check `registrants` before re-sending.
        case uncertain(job: Int, attempts: Int, sentAt: Double, lastError: String, at: Double)
        /// The outcome of a preflight `webinar` check.
        case target(Target, ok: Bool, message: String?, at: Double)
    }

    /// How the URLs were learned.
    public enum ResultSource: String, Sendable {
        case register
        case registrants
    }

    private let executor: DatabaseExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let connection: Connection
    private let path: String
    private var pending: [(Change, CheckedContinuation<Void, any Error>?)] = []
    private let maps: ImportMaps
    private var flushScheduled = false

    /// Opens the database at `path` (it must exist).
    public init(path: String) throws {
        self.path = path
        self.executor = DatabaseExecutor()
        self.connection = try Database.open(path, mode: .existing)
        self.maps = ImportMaps(connection: connection)
    }

    /// Turns jobs left `in_flight` by a dead process into `uncertain`.
    ///
    /// Their stored send time is when the send was decided; the call itself left later, but
    /// no later than the process died, which is before `now`. So `now` is taken as the send
    /// time: verifying `requestTimeout` after it is certain not to race the earlier call.
    public func recoverInFlight(now: Double) throws -> Int {
        try wrap {
            try connection.transaction {
                try connection.cached(
                    "UPDATE jobs SET state = 'uncertain', sent_at = ?1, error = 'interrupted while the register call was in flight', updated_at = ?1 WHERE state = 'in_flight'"
                ).run([.double(now)])
                return connection.changes
            }
        }
    }

    /// Up to `limit` queued jobs with `id > after`, in id order.
    public func queuedPage(after: Int, limit: Int) throws -> [Job] {
        try wrap {
            try jobs(
                "SELECT \(Self.columns) FROM jobs WHERE state = 'queued' AND id > ? ORDER BY id LIMIT ?",
                [.int(Int64(after)), .int(Int64(limit))])
        }
    }

    /// Every uncertain job, in id order (there are few: at most the in-flight window).
    public func uncertainJobs() throws -> [Job] {
        try wrap { try jobs("SELECT \(Self.columns) FROM jobs WHERE state = 'uncertain' ORDER BY id", []) }
    }

    /// Targets already checked in this database.
    public func checkedTargets() throws -> [Target: (ok: Bool, message: String?)] {
        try wrap {
            var out: [Target: (ok: Bool, message: String?)] = [:]
            let q = try connection.cached(
                "SELECT platform, webinar_id, schedule, date, checked_ok, check_message FROM targets WHERE checked_ok IS NOT NULL")
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
    public func openJobs() throws -> Int {
        try wrap {
            let queued = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'queued'") ?? 0
            let uncertain = try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'uncertain'") ?? 0
            return Int(queued + uncertain)
        }
    }

    /// Counts per state.
    public func counts() throws -> [JobState: Int] {
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

    /// Commits `change`; returns once it is durable.
    public func commit(_ change: Change) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((change, continuation))
            scheduleFlush()
        }
    }

    /// Commits several changes in one transaction.
    public func commit(_ changes: [Change]) async throws {
        guard let last = changes.last else { return }
        for change in changes.dropLast() { pending.append((change, nil)) }
        try await commit(last)
    }

    /// Puts failed jobs (all, or one) back in the queue; returns how many.
    public func retryFailed(job: Int?, now: Double) throws -> Int {
        try wrap {
            try connection.transaction {
                if let job {
                    try connection.cached(
                        "UPDATE jobs SET state = 'queued', attempts = 0, not_before = NULL, updated_at = ? WHERE id = ? AND state IN ('failed', 'uncertain')"
                    ).run([.double(now), .int(Int64(job))])
                } else {
                    try connection.cached(
                        "UPDATE jobs SET state = 'queued', attempts = 0, not_before = NULL, updated_at = ? WHERE state = 'failed'"
                    ).run([.double(now)])
                }
                let n = connection.changes
                // A failed preflight is re-checked on the next run.
                try connection.execute("UPDATE targets SET checked_ok = NULL, check_message = NULL WHERE checked_ok = 0")
                return n
            }
        }
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
        guard !batch.isEmpty else { return }
        do {
            try connection.transaction {
                for (change, _) in batch { try apply(change) }
            }
            for (_, continuation) in batch { continuation?.resume() }
        } catch {
            let failure: any Error =
                (error as? SQLiteError).map { Database.storageError($0, path: path) } ?? error
            for (_, continuation) in batch { continuation?.resume(throwing: failure) }
        }
    }

    private func apply(_ change: Change) throws {
        switch change {
        case .sending(let job, let at):
            try connection.cached(
                "UPDATE jobs SET state = 'in_flight', sent_at = ?, updated_at = ? WHERE id = ?"
            ).run([.double(at), .double(at), .int(Int64(job))])
        case .done(let job, let attempts, let user, let source, let at):
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
            try connection.cached(
                "UPDATE jobs SET state = 'done', attempts = ?, error = NULL, not_before = NULL, updated_at = ? WHERE id = ?"
            ).run([.int(Int64(attempts)), .double(at), .int(Int64(job))])
        case .failed(let job, let attempts, let message, let at):
            try connection.cached(
                "UPDATE jobs SET state = 'failed', attempts = ?, error = ?, not_before = NULL, updated_at = ? WHERE id = ?"
            ).run([.int(Int64(attempts)), .text(message), .double(at), .int(Int64(job))])
        case .requeued(let job, let attempts, let notBefore, let lastError, let at):
            try connection.cached(
                "UPDATE jobs SET state = 'queued', attempts = ?, not_before = ?, error = ?, updated_at = ? WHERE id = ?"
            ).run([.int(Int64(attempts)), .double(notBefore), .text(lastError), .double(at), .int(Int64(job))])
        case .uncertain(let job, let attempts, let sentAt, let lastError, let at):
            try connection.cached(
                "UPDATE jobs SET state = 'uncertain', attempts = ?, sent_at = ?, error = ?, updated_at = ? WHERE id = ?"
            ).run([.int(Int64(attempts)), .double(sentAt), .text(lastError), .double(at), .int(Int64(job))])
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
        }
    }

    static let columns = "id, line, import_id, row, attempts, sent_at, not_before, state, error"

    private func jobs(_ sql: String, _ values: [SQLiteValue]) throws -> [Job] {
        let q = try connection.cached(sql)
        defer { q.reset() }
        try q.bind(values)
        var out: [Job] = []
        while try q.step() {
            let row = q.withBlob(3) { RowCodec.decode($0) }
            let lead = try maps.lead(import: q.int(2), row: row)
            var extras: [String: String] = [:]
            for (name, value) in lead.extras { extras[name] = value }
            let request = RegistrationRequest(
                platform: lead.platform, webinarID: lead.webinarID, schedule: lead.schedule,
                firstName: lead.firstName, lastName: lead.lastName, email: lead.email,
                phoneCountryCode: lead.phoneCountryCode, phone: lead.phone, ipAddress: lead.ipAddress,
                timezone: lead.timezone, date: lead.date, extraFields: extras)
            out.append(
                Job(
                    id: q.int(0), line: q.int(1), request: request, attempts: q.int(4), sentAt: q.optionalDouble(5),
                    notBefore: q.optionalDouble(6), state: JobState(rawValue: q.text(7) ?? "") ?? .queued,
                    lastError: q.text(8)))
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
