import SQLite
import WebinarAPI

/// What `bulkreg verify` reads and writes: the `done` jobs of each webinar schedule, and
/// what the vendor said of them, committed page by page (an interrupted verify keeps what it
/// verified).
final class VerifyStore {
    /// A webinar schedule with done jobs (EverWebinar: every session date of it together).
    struct Schedule: Hashable, Sendable {
        var platform: Platform
        var webinarID: Int
        var schedule: Int
    }

    /// A done job as verify compares it.
    struct DoneJob: Sendable {
        var id: Int
        /// Lowercased.
        var email: String
        /// EverWebinar session date, when the job has one.
        var date: String?
        var liveRoomURL: String?
        var replayRoomURL: String?
    }

    /// What one job's verification found.
    enum Finding: Sendable {
        /// The vendor has the lead with the stored links.
        case confirmed(job: Int)
        /// The vendor has the lead with other links; `refresh` stores them.
        case changed(job: Int, live: String?, replay: String?, refresh: Bool)
        /// The vendor no longer has the lead.
        case notFound(job: Int)
    }

    private let connection: Connection
    private let maps: ImportMaps
    let path: String

    init(path: String) throws {
        self.path = path
        connection = try Database.open(path, mode: .existing)
        maps = ImportMaps(connection: connection)
    }

    /// The schedules with done jobs, and how many each has, in target order.
    func schedules() throws -> [(Schedule, Int)] {
        try wrap {
            let q = try connection.prepare(
                """
                SELECT t.platform, t.webinar_id, t.schedule, count(*) FROM jobs j JOIN targets t ON t.id = j.target_id
                WHERE j.state = 'done' GROUP BY t.platform, t.webinar_id, t.schedule ORDER BY min(t.id)
                """
            )
            var out: [(Schedule, Int)] = []
            while try q.step() {
                guard let platform = Platform(rawValue: q.text(0) ?? "") else { continue }
                out.append((Schedule(platform: platform, webinarID: q.int(1), schedule: q.int(2)), q.int(3)))
            }
            return out
        }
    }

    /// The done jobs of `schedule`, by lowercased email.
    func doneJobs(_ schedule: Schedule) throws -> [String: [DoneJob]] {
        try wrap {
            let q = try connection.prepare(
                """
                SELECT j.id, j.import_id, j.row, r.live_room_url, r.replay_room_url
                FROM jobs j JOIN targets t ON t.id = j.target_id LEFT JOIN results r ON r.job_id = j.id
                WHERE j.state = 'done' AND t.platform = ? AND t.webinar_id = ? AND t.schedule = ?
                ORDER BY j.id
                """
            )
            try q.bind([
                .text(schedule.platform.rawValue), .int(Int64(schedule.webinarID)), .int(Int64(schedule.schedule)),
            ])
            var out: [String: [DoneJob]] = [:]
            while try q.step() {
                let row = q.withBlob(2) { RowCodec.decode($0) }
                let lead = try maps.lead(import: q.int(1), row: row)
                let email = lead.email.lowercased()
                out[email, default: []].append(
                    DoneJob(
                        id: q.int(0),
                        email: email,
                        date: lead.date,
                        liveRoomURL: q.text(3),
                        replayRoomURL: q.text(4)
                    )
                )
            }
            return out
        }
    }

    /// Stores `findings` in one transaction. Only jobs still `done` change.
    /// - Parameter stamp: `YYYY-MM-DD HH:MM` for the messages.
    /// - Parameter calls: the page calls that led to them, for the history.
    func record(_ findings: [Finding], calls: [CallRecord] = [], at now: Double, stamp: String) throws {
        guard !findings.isEmpty || !calls.isEmpty else { return }
        try wrap {
            try connection.transaction(.immediate) {
                try CallLog.insert(calls, into: connection)
                for finding in findings {
                    switch finding {
                    case .confirmed(let job):
                        try connection.cached(
                            "UPDATE results SET verified_at = ? WHERE job_id = ? AND job_id IN (SELECT id FROM jobs WHERE state = 'done')"
                        ).run([.double(now), .int(Int64(job))])
                    case .changed(let job, let live, let replay, let refresh):
                        guard refresh else { continue }
                        try connection.cached(
                            """
                            UPDATE results SET live_room_url = ?, replay_room_url = ?, thank_you_url = NULL, verified_at = ?
                            WHERE job_id = ? AND job_id IN (SELECT id FROM jobs WHERE state = 'done')
                            """
                        ).run([.text(live), .text(replay), .double(now), .int(Int64(job))])
                        try connection.cached(
                            "UPDATE jobs SET error = ?, updated_at = ? WHERE id = ? AND state = 'done'"
                        ).run([
                            .text(
                                "links changed at the vendor (a session was edited?): live and replay URLs refreshed by "
                                    + "verify \(stamp); the thank-you URL was cleared (registrants does not give it)"
                            ),
                            .double(now), .int(Int64(job)),
                        ])
                    case .notFound(let job):
                        try connection.cached(
                            JobEvent.verifiedMissing.update(
                                set: "maybe_sent = 0, error = ?, not_before = NULL, updated_at = ?",
                                where: "id = ?"
                            )
                        ).run([.text("not found at the vendor (verify \(stamp))"), .double(now), .int(Int64(job))])
                        // Its links are gone with the registration: not exported as if they worked.
                        if connection.changes > 0 {
                            try connection.cached("DELETE FROM results WHERE job_id = ?").run([.int(Int64(job))])
                        }
                    }
                }
            }
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw Database.storageError(error, path: path)
        }
    }
}
