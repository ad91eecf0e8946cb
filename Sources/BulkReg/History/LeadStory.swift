import SQLite
import WebinarAPI

/// One lead's story, for `bulkreg show`: where it came from, what was sent, every call made
/// for it, and how it ended.
package struct LeadStory: Sendable {
    package var job: Int
    package var state: JobState
    package var importID: Int
    package var file: String
    package var importedAt: Double
    package var line: Int
    /// The original row: header name → cell, in the file's order.
    package var row: [(column: String, value: String)]
    /// The form fields as sent (or to be sent), without the key; nil for a row that was never
    /// a valid lead (rejected) or no longer reads as one.
    package var sent: [(String, String)]?
    package var target: String?
    package var calls: [CallRecord]
    package var attempts: Int
    package var error: String?
    package var note: String?
    /// The job this row is a duplicate of (or was replaced by).
    package var duplicateOf: Int?
    /// Rows of other imports that are duplicates of this job.
    package var duplicates: [(job: Int, file: String, line: Int)]
    package var result: Result?

    package struct Result: Sendable {
        package var userID: Int?
        package var liveRoomURL: String?
        package var replayRoomURL: String?
        package var thankYouURL: String?
        package var source: String
        package var registeredAt: Double
        package var verifiedAt: Double?
    }

    /// The stories of `query`: a job number, or an email address (every job of that person,
    /// in every webinar, rejected and duplicate rows included).
    package static func load(databasePath path: String, query: String) throws -> [LeadStory] {
        let connection = try Database.open(path, mode: .existing)
        do {
            let ids: [Int]
            if let id = Int(query.trimmingPrefix("#")), id > 0 {
                ids = [id]
            } else {
                ids = try jobs(ofEmail: query, connection)
            }
            let maps = ImportMaps(connection: connection)
            return try ids.compactMap { try story(job: $0, connection, maps: maps) }
        } catch let error as SQLiteError {
            throw Database.storageError(error, path: path)
        }
    }

    /// The jobs whose row holds `email` (compared trimmed and in any case) in the column its
    /// import reads the email from, in job order. Reads every row: an email is not indexed
    /// (the person key is per target, and rejected rows have none).
    static func jobs(ofEmail email: String, _ connection: Connection) throws -> [Int] {
        let wanted = LeadText.trim(email).lowercased()
        guard !wanted.isEmpty else { return [] }
        var emailColumns: [Int: [Int]] = [:]
        let imports = try connection.prepare("SELECT id, mapping FROM imports")
        while try imports.step() {
            let map = imports.text(1).flatMap(FieldMap.init(stored:))
            emailColumns[imports.int(0)] = map?.columns(of: .email)
        }
        var out: [Int] = []
        let q = try connection.prepare("SELECT id, import_id, row FROM jobs ORDER BY id")
        while try q.step() {
            let columns = emailColumns[q.int(1)] ?? nil
            let hit = q.withBlob(2) { bytes -> Bool in
                var found = false
                var index = 0
                RowCodec.forEachField(bytes) { field in
                    if !found, columns.map({ $0.contains(index) }) ?? true,
                        LeadText.trim(String(decoding: field, as: UTF8.self)).lowercased() == wanted
                    {
                        found = true
                    }
                    index += 1
                }
                return found
            }
            if hit { out.append(q.int(0)) }
        }
        return out
    }

    static func story(job id: Int, _ connection: Connection, maps: ImportMaps) throws -> LeadStory? {
        let q = try connection.prepare(
            """
            SELECT j.import_id, j.line, j.state, j.row, j.attempts, j.error, j.note, j.duplicate_of,
                i.file_name, i.imported_at, i.header, t.platform, t.webinar_id, t.schedule, t.date
            FROM jobs j JOIN imports i ON i.id = j.import_id LEFT JOIN targets t ON t.id = j.target_id
            WHERE j.id = ?
            """
        )
        try q.bind([.int(Int64(id))])
        guard try q.step() else { return nil }
        let importID = q.int(0)
        let state = JobState(rawValue: q.text(2) ?? "") ?? .queued
        let cells = q.withBlob(3) { RowCodec.decode($0) }
        let header = q.withBlob(10) { RowCodec.decode($0) }
        var row: [(String, String)] = []
        for (index, cell) in cells.enumerated() {
            row.append((index < header.count ? header[index] : "column \(index + 1)", cell))
        }
        var target: String?
        if let platform = q.text(11).flatMap(Platform.init(rawValue:)) {
            target =
                Target(platform: platform, webinarID: q.int(12), schedule: q.int(13), date: q.text(14) ?? "")
                .description
        }
        var story = LeadStory(
            job: id,
            state: state,
            importID: importID,
            file: q.text(8) ?? "",
            importedAt: q.double(9),
            line: q.int(1),
            row: row,
            sent: nil,
            target: target,
            calls: [],
            attempts: q.int(4),
            error: q.text(5),
            note: q.text(6),
            duplicateOf: q.optionalInt(7),
            duplicates: [],
            result: nil
        )
        if state != .rejected, let lead = try? maps.lead(import: importID, row: cells) {
            story.sent = HTTPWebinarAPI.formFields(for: lead.request)
        }
        let calls = try connection.prepare(
            "SELECT \(CallLog.columns) FROM calls WHERE job_id = ? ORDER BY at_ms, id"
        )
        try calls.bind([.int(Int64(id))])
        while try calls.step() { story.calls.append(CallLog.record(calls)) }
        let dups = try connection.prepare(
            """
            SELECT j.id, i.file_name, j.line FROM jobs j JOIN imports i ON i.id = j.import_id
            WHERE j.duplicate_of = ? ORDER BY j.id LIMIT 100
            """
        )
        try dups.bind([.int(Int64(id))])
        while try dups.step() { story.duplicates.append((dups.int(0), dups.text(1) ?? "", dups.int(2))) }
        let result = try connection.prepare(
            """
            SELECT user_id, live_room_url, replay_room_url, thank_you_url, source, registered_at, verified_at
            FROM results WHERE job_id = ?
            """
        )
        try result.bind([.int(Int64(id))])
        if try result.step() {
            story.result = Result(
                userID: result.optionalInt(0),
                liveRoomURL: result.text(1),
                replayRoomURL: result.text(2),
                thankYouURL: result.text(3),
                source: result.text(4) ?? "",
                registeredAt: result.double(5),
                verifiedAt: result.optionalDouble(6)
            )
        }
        return story
    }

    /// The human-readable story.
    package func rendered() -> String {
        var lines: [String] = []
        lines.append("job \(job): \(state.rawValue)\(target.map { " — \($0)" } ?? "")")
        lines.append(
            "  import #\(importID) \(file), line \(line) (imported \(WallClock.iso8601(importedAt)))"
        )
        lines.append("  row:")
        for (column, value) in row { lines.append("    \(column): \(value)") }
        if let sent {
            // A job never sent (a duplicate, queued or cancelled) shows what it would send.
            let wasSent = calls.contains { $0.method == .register }
            lines.append(wasSent ? "  sent as:" : "  fields to send (not sent):")
            for (name, value) in sent { lines.append("    \(name)=\(value)") }
        }
        if calls.isEmpty {
            lines.append("  calls: none recorded")
        } else {
            lines.append("  calls:")
            for call in calls {
                var parts = [
                    Self.timestamp(call.at), call.method.label, call.outcome.label,
                    call.httpStatus.map { "HTTP \($0)" } ?? "-",
                    "\(Int((call.latency * 1000).rounded())) ms",
                ]
                if let attempt = call.attempt { parts.append("attempt \(attempt)") }
                if let reason = call.reason { parts.append(reason) }
                lines.append("    " + parts.joined(separator: "  "))
            }
        }
        lines.append("  attempts: \(attempts)")
        if let duplicateOf { lines.append("  duplicate of job \(duplicateOf) (`bulkreg show \(duplicateOf)`)") }
        if let error { lines.append("  error: \(error)") }
        if let note { lines.append("  note: \(note)") }
        for d in duplicates {
            lines.append("  also in \(d.file), line \(d.line) (job \(d.job), a duplicate of this one)")
        }
        if let result {
            lines.append(
                "  registered \(WallClock.iso8601(result.registeredAt)) (learned from \(result.source))"
                    + (result.userID.map { ", user id \($0)" } ?? "")
            )
            lines.append("  live room:   \(result.liveRoomURL ?? "-")")
            lines.append("  replay room: \(result.replayRoomURL ?? "-")")
            lines.append("  thank you:   \(result.thankYouURL ?? "-")")
            if let verified = result.verifiedAt {
                lines.append("  verified at the vendor \(WallClock.iso8601(verified))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `2026-12-02T21:05:03.120Z`.
    static func timestamp(_ seconds: Double) -> String {
        let whole = seconds.rounded(.down)
        let ms = Int(((seconds - whole) * 1000).rounded())
        let base = WallClock.iso8601(whole)
        let padded = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(min(ms, 999))"
        return String(base.dropLast()) + ".\(padded)Z"
    }
}
