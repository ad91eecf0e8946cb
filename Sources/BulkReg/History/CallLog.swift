import SQLite

/// Writes and reads the `calls` table (schema 5).
enum CallLog {
    /// Inserts `calls` (inside the caller's transaction).
    static func insert(_ calls: [CallRecord], into connection: Connection) throws(SQLiteError) {
        guard !calls.isEmpty else { return }
        let insert = try connection.cached(
            "INSERT INTO calls (at_ms, ms, job_id, method, outcome, http, attempt, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for call in calls {
            try insert.run([
                .int(Int64((call.at * 1000).rounded())), .int(Int64(max(0, (call.latency * 1000).rounded()))),
                call.job.map { .int(Int64($0)) } ?? .null, .int(Int64(call.method.rawValue)),
                .int(Int64(call.outcome.rawValue)), call.httpStatus.map { .int(Int64($0)) } ?? .null,
                call.attempt.map { .int(Int64($0)) } ?? .null, call.reason.map { .text($0) } ?? .null,
            ])
        }
    }

    /// The columns `record(_:)` decodes, in order.
    static let columns = "at_ms, ms, job_id, method, outcome, http, attempt, reason"

    /// The record of a row selected with `columns` first.
    static func record(_ q: Statement) -> CallRecord {
        CallRecord(
            at: Double(q.int(0)) / 1000,
            latency: Double(q.int(1)) / 1000,
            job: q.optionalInt(2),
            method: CallMethod(rawValue: q.int(3)) ?? .register,
            outcome: CallOutcome(rawValue: q.int(4)) ?? .unexplained,
            httpStatus: q.optionalInt(5),
            attempt: q.optionalInt(6),
            reason: q.text(7)
        )
    }
}

extension CallLog {
    /// What the last minute of the history holds.
    package struct LastMinute: Sendable, Equatable {
        package var calls = 0
        package var registered = 0
        package var rateLimited = 0
    }

    /// Calls that started in the minute before `now` (read backwards from the newest row: rows
    /// are appended as calls end, so the scan stops two minutes back).
    static func lastMinute(_ connection: Connection, now: Double) throws(SQLiteError) -> LastMinute {
        let since = Int64((now - 60) * 1000)
        let stopBefore = since - 120_000
        let q = try connection.prepare("SELECT at_ms, method, outcome FROM calls ORDER BY id DESC")
        var out = LastMinute()
        while try q.step() {
            let at = Int64(q.int(0))
            if at < stopBefore { break }
            guard at >= since, at <= Int64(now * 1000) + 1000 else { continue }
            let method = CallMethod(rawValue: q.int(1))
            let outcome = CallOutcome(rawValue: q.int(2))
            if let method, CallMethod.calls.contains(method) { out.calls += 1 }
            if method == .register && outcome == .success || method == .check && outcome == .found {
                out.registered += 1
            }
            if outcome == .rateLimited { out.rateLimited += 1 }
        }
        return out
    }

    /// The newest outage in the history (read backwards until one is found).
    static func lastOutage(_ connection: Connection) throws(SQLiteError) -> OutageDetector.Outage? {
        let q = try connection.prepare(
            "SELECT at_ms, ms, outcome, reason FROM calls WHERE method IN (1, 2, 3) ORDER BY id DESC"
        )
        var detector = OutageDetector(reversed: true)
        while try q.step() {
            let outcome = CallOutcome(rawValue: q.int(2)) ?? .unexplained
            if let outage = detector.feed(
                at: Double(q.int(0)) / 1000,
                latency: Double(q.int(1)) / 1000,
                outcome: outcome,
                reason: q.text(3)
            ) {
                return outage
            }
        }
        return detector.finish()
    }
}
