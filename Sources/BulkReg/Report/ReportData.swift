import SQLite
import WebinarAPI

/// What `bulkreg report` shows, read with SQL aggregates and one streaming pass over the call
/// history: memory is bounded by the timeline's buckets and the 1,000 leads listed, not by the
/// size of the database.
package struct ReportData: Sendable {
    package struct Lead: Sendable {
        package var job: Int
        package var state: String
        package var file: String
        package var line: Int
        package var email: String
        package var target: String
        package var attempts: Int
        package var reason: String
    }

    package struct ImportSummary: Sendable {
        package var id: Int
        package var file: String
        package var importedAt: Double
        package var rows: Int
        package var queued: Int
        package var rejected: Int
        package var duplicates: Int
        package var blank: Int
        package var updated: Int
        /// The most frequent rejection reasons, with their counts.
        package var reasons: [(reason: String, count: Int)]
        /// Rejections under reasons not listed.
        package var otherReasons: Int
    }

    package static let leadsListed = 1000
    package static let reasonsListed = 10

    package var status: StatusReport
    package var timeline: Timeline?
    package var firstCall: Double?
    package var lastCall: Double?
    package var leads: [Lead]
    /// Failed and uncertain leads in all (the list holds the first `leadsListed`).
    package var leadsCount: Int
    package var imports: [ImportSummary]
    /// Registrants checks by verdict (found, not found, ...).
    package var checks: [CallOutcome: Int]
    package var generatedAt: Double

    package static func load(databasePath path: String, now: Double) throws -> ReportData {
        let connection = try Database.open(path, mode: .existing)
        do {
            // One read transaction: totals, history and leads from one snapshot, even beside a
            // run that commits meanwhile (WAL: the run is never blocked by it).
            try connection.execute("BEGIN DEFERRED")
            defer { try? connection.execute("COMMIT") }
            let status = try StatusReport.load(connection, path: path, now: now)
            var data = ReportData(
                status: status,
                timeline: nil,
                firstCall: nil,
                lastCall: nil,
                leads: [],
                leadsCount: 0,
                imports: [],
                checks: [:],
                generatedAt: now
            )
            try data.readTimeline(connection)
            try data.readLeads(connection)
            try data.readImports(connection)
            return data
        } catch let error as SQLiteError {
            throw Database.storageError(error, path: path)
        }
    }

    mutating func readTimeline(_ connection: Connection) throws {
        let bounds = try connection.prepare("SELECT min(at_ms), max(at_ms + ms), count(*) FROM calls")
        guard try bounds.step(), bounds.int(2) > 0 else { return }
        let first = Double(bounds.int(0)) / 1000
        let last = Double(bounds.int(1)) / 1000
        firstCall = first
        lastCall = last
        var timeline = Timeline(first: first, last: last)
        let q = try connection.prepare("SELECT \(CallLog.columns) FROM calls ORDER BY id")
        while try q.step() {
            let call = CallLog.record(q)
            if call.method == .check { checks[call.outcome, default: 0] += 1 }
            timeline.add(call)
        }
        timeline.finish()
        self.timeline = timeline
    }

    mutating func readLeads(_ connection: Connection) throws {
        leadsCount = Int(
            try connection.scalarInt("SELECT count(*) FROM jobs WHERE state IN ('failed', 'uncertain')") ?? 0
        )
        let maps = ImportMaps(connection: connection)
        let q = try connection.prepare(
            """
            SELECT j.id, j.state, i.file_name, j.line, j.import_id, j.row, t.platform, t.webinar_id, t.schedule, t.date,
                j.attempts, j.error
            FROM jobs j JOIN imports i ON i.id = j.import_id LEFT JOIN targets t ON t.id = j.target_id
            WHERE j.state IN ('failed', 'uncertain') ORDER BY j.id LIMIT \(Self.leadsListed)
            """
        )
        while try q.step() {
            let row = q.withBlob(5) { RowCodec.decode($0) }
            let email = (try? maps.lead(import: q.int(4), row: row))?.email ?? "(unreadable row)"
            var target = "-"
            if let platform = q.text(6) {
                // Compact, as the per-webinar table writes it: `webinarjam 5 / 34` (and the date).
                let date = q.text(9) ?? ""
                target = "\(platform) \(q.int(7)) / \(q.int(8))" + (date.isEmpty ? "" : " \(date)")
            }
            leads.append(
                Lead(
                    job: q.int(0),
                    state: q.text(1) ?? "",
                    file: q.text(2) ?? "",
                    line: q.int(3),
                    email: email,
                    target: target,
                    attempts: q.int(10),
                    reason: q.text(11) ?? ""
                )
            )
        }
    }

    mutating func readImports(_ connection: Connection) throws {
        let q = try connection.prepare(
            "SELECT id, file_name, imported_at, rows, queued, rejected, duplicates, blank, updated FROM imports ORDER BY id"
        )
        var byID: [Int: Int] = [:]
        while try q.step() {
            byID[q.int(0)] = imports.count
            imports.append(
                ImportSummary(
                    id: q.int(0),
                    file: q.text(1) ?? "",
                    importedAt: q.double(2),
                    rows: q.int(3),
                    queued: q.int(4),
                    rejected: q.int(5),
                    duplicates: q.int(6),
                    blank: q.int(7),
                    updated: q.int(8),
                    reasons: [],
                    otherReasons: 0
                )
            )
        }
        let reasons = try connection.prepare(
            """
            SELECT import_id, error, count(*) AS n FROM jobs WHERE state = 'rejected'
            GROUP BY import_id, error ORDER BY import_id, n DESC, error
            """
        )
        while try reasons.step() {
            guard let index = byID[reasons.int(0)] else { continue }
            let count = reasons.int(2)
            if imports[index].reasons.count < Self.reasonsListed {
                imports[index].reasons.append((reasons.text(1) ?? "(no reason)", count))
            } else {
                imports[index].otherReasons += count
            }
        }
    }
}
