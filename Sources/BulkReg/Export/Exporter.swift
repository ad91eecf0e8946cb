import CSV
import SQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `bulkreg export` was asked to do.
package struct ExportOptions: Sendable {
    /// A file path, or `-` for standard output.
    package var output: String
    /// Only rows in these states (none: every row).
    package var states: [JobState]
    /// Only rows of these imports (none: every import); their own columns only.
    package var imports: [Int]
    /// Only rows for this webinar (and schedule).
    package var webinarID: Int?
    package var schedule: Int?
    /// For Excel: a UTF-8 BOM, and the delimiter the (first selected) import was read with.
    package var excel: Bool
    /// Prefix `'` to cells that a spreadsheet would run as a formula.
    package var excelSafe: Bool

    package init(
        output: String,
        states: [JobState] = [],
        imports: [Int] = [],
        webinarID: Int? = nil,
        schedule: Int? = nil,
        excel: Bool = false,
        excelSafe: Bool = false
    ) {
        self.output = output
        self.states = states
        self.imports = imports
        self.webinarID = webinarID
        self.schedule = schedule
        self.excel = excel
        self.excelSafe = excelSafe
    }

    package init(output: String, state: JobState?, excelSafe: Bool = false) {
        self.init(output: output, states: state.map { [$0] } ?? [], excelSafe: excelSafe)
    }
}

/// Writes one row per input row, in input order: the original columns, then the outcome.
///
/// A duplicate row carries the outcome of the job it duplicates (status `duplicate of job
/// 106: done`, and that job's URLs): the user needs every lead's links for this campaign,
/// whichever list registered it first.
///
/// A file is written to a temporary sibling (mode 0600) and renamed into place when
/// complete, so a failure (disk full, interrupted) never leaves a half-written export.
package enum Exporter {
    /// Columns appended after the original ones.
    package static let resultColumns = [
        "status", "job_id", "platform", "webinar_id", "schedule", "session_date", "user_id", "live_room_url",
        "replay_room_url", "thank_you_url", "error", "attempts", "registered_at", "verified_at", "note",
    ]

    /// The delimiter an import stored by its description (`,` `;` `tab` `|`).
    static func delimiter(named name: String) -> CSVDelimiter? {
        for candidate in CSVDelimiter.sniffCandidates where candidate.description == name {
            return candidate
        }
        return nil
    }

    /// Exports; returns the number of data rows written.
    @discardableResult
    package static func run(_ options: ExportOptions, databasePath: String) throws -> Int {
        let connection = try Database.open(databasePath, mode: .existing)
        let layout = try ColumnLayout(connection: connection, imports: options.imports)
        for id in options.imports where layout.positions[id] == nil {
            throw BulkRegError(.usage, "\(databasePath): no import #\(id) (see `bulkreg status`)")
        }

        var delimiter = CSVDelimiter.comma
        if options.excel, let first = options.imports.first ?? layout.positions.keys.min() {
            let q = try connection.prepare("SELECT delimiter FROM imports WHERE id = ?")
            try q.bind([.int(first)])
            if try q.step(), let sniffed = q.text(0) {
                delimiter = Self.delimiter(named: sniffed) ?? .comma
            }
        }

        let toStdout = options.output == "-"
        let temporary = toStdout ? "" : options.output + ".tmp-\(getpid())"
        let fd: Int32
        if toStdout {
            fd = 1
        } else {
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw BulkRegError(.input, "\(options.output): cannot write: \(String(cString: strerror(errno)))")
            }
        }
        var count = 0
        do {
            let writer = CSVWriter(
                fileDescriptor: fd,
                options: CSVWriterOptions(delimiter: delimiter, excelSafe: options.excelSafe)
            )
            if options.excel { try writer.writeByteOrderMark() }
            try writer.write(record: layout.header + resultColumns)
            var conditions: [String] = []
            var values: [SQLiteValue] = []
            if !options.states.isEmpty {
                conditions.append("j.state IN (" + options.states.map { _ in "?" }.joined(separator: ", ") + ")")
                values += options.states.map { .text($0.rawValue) }
            }
            if !options.imports.isEmpty {
                conditions.append("j.import_id IN (" + options.imports.map { _ in "?" }.joined(separator: ", ") + ")")
                values += options.imports.map { .int($0) }
            }
            if let webinar = options.webinarID {
                var sub = "SELECT id FROM targets WHERE webinar_id = ?"
                values.append(.int(webinar))
                if let schedule = options.schedule {
                    sub += " AND schedule = ?"
                    values.append(.int(schedule))
                }
                conditions.append("j.target_id IN (\(sub))")
            }
            // Targets are few: read once, not joined per row (this loop runs a million times).
            var targets: [Int64: (platform: [UInt8], webinar: [UInt8], schedule: [UInt8], date: [UInt8])] = [:]
            let readTargets = try connection.prepare("SELECT id, platform, webinar_id, schedule, date FROM targets")
            while try readTargets.step() {
                targets[readTargets.int64(0)] = (
                    Array((readTargets.text(1) ?? "").utf8), Array(String(readTargets.int(2)).utf8),
                    Array(String(readTargets.int(3)).utf8), Array((readTargets.text(4) ?? "").utf8)
                )
            }
            let sql = """
                SELECT j.import_id, j.row, j.state, j.error, j.attempts, r.user_id,
                       r.live_room_url, r.replay_room_url, r.thank_you_url, r.registered_at, r.source,
                       j.id, j.target_id, r.date, j.duplicate_of, j.note, r.verified_at
                FROM jobs j LEFT JOIN results r ON r.job_id = j.id
                \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
                ORDER BY j.id
                """
            let query = try connection.prepare(sql)
            try query.bind(values)
            // A duplicate row shows the job it duplicates (rare: looked up one by one).
            let owner = try connection.prepare(
                """
                SELECT j.state, j.attempts, r.user_id, r.live_room_url, r.replay_room_url, r.thank_you_url,
                       r.registered_at, r.source, r.date, r.verified_at
                FROM jobs j LEFT JOIN results r ON r.job_id = j.id WHERE j.id = ?
                """
            )
            // Fields go from SQLite's buffers to the writer as bytes: no String per value.
            var spans: [UnsafeRawBufferPointer] = []
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            var lastImport = Int.min
            var sources: [Int] = []
            var lastTargetID: Int64 = -2
            var target: (platform: [UInt8], webinar: [UInt8], schedule: [UInt8], date: [UInt8]) = ([], [], [], [])
            func write(_ bytes: [UInt8]) throws {
                try bytes.withUnsafeBytes { try writer.writeField(utf8: $0) }
            }
            while try query.step() {
                let importID = query.int(0)
                if importID != lastImport {
                    sources = layout.sources(importID: importID)
                    lastImport = importID
                }
                try query.withBlob(1) { row in
                    spans.removeAll(keepingCapacity: true)
                    RowCodec.forEachField(row) { spans.append($0) }
                    for source in sources {
                        try writer.writeField(utf8: source >= 0 && source < spans.count ? spans[source] : empty)
                    }
                }
                // The outcome: this job's, or for a duplicate the job it duplicates.
                let ownerID = query.optionalInt(14)
                var outcome: Statement = query
                var columns:
                    (
                        state: Int32, attempts: Int32, user: Int32, urls: Int32, at: Int32, source: Int32, date: Int32,
                        verified: Int32
                    ) = (2, 4, 5, 6, 9, 10, 13, 16)
                if let ownerID {
                    owner.reset()
                    try owner.bind(1, Int64(ownerID))
                    if try owner.step() {
                        outcome = owner
                        columns = (0, 1, 2, 3, 6, 7, 8, 9)
                    }
                    try writer.writeField(
                        "duplicate of job \(ownerID): \(outcome === owner ? owner.text(0) ?? "?" : "?")"
                    )
                } else {
                    try query.withBlob(2) { try writer.writeField(utf8: $0) }  // state
                }
                try query.withBlob(11) { try writer.writeField(utf8: $0) }  // job_id
                let targetID = query.optionalInt(12).map(Int64.init) ?? -1
                if targetID != lastTargetID {
                    lastTargetID = targetID
                    target = targets[targetID] ?? ([], [], [], [])
                }
                try write(target.platform)
                try write(target.webinar)
                try write(target.schedule)
                try outcome.withBlob(columns.date) { date in
                    if date.isEmpty { try write(target.date) } else { try writer.writeField(utf8: date) }
                }
                try outcome.withBlob(columns.user) { try writer.writeField(utf8: $0) }  // user_id
                for column in columns.urls...(columns.urls + 2) {
                    try outcome.withBlob(column) { try writer.writeField(utf8: $0) }  // URLs
                }
                try query.withBlob(3) { try writer.writeField(utf8: $0) }  // error
                try outcome.withBlob(columns.attempts) { try writer.writeField(utf8: $0) }  // attempts
                try writer.writeField(outcome.optionalDouble(columns.at).map(WallClock.iso8601) ?? "")
                // verified_at: when `bulkreg verify` last found the lead at the vendor.
                try writer.writeField(outcome.optionalDouble(columns.verified).map(WallClock.iso8601) ?? "")
                try query.withBlob(15) { note in
                    if note.isEmpty && outcome.text(columns.source) == "registrants" {
                        try writer.writeField("registered earlier (found via registrants); thank-you URL not known")
                    } else {
                        try writer.writeField(utf8: note)
                    }
                }
                try writer.endRecord()
                count += 1
            }
            try writer.flush()
            if !toStdout {
                guard fsync(fd) == 0 else { throw CSVWriterErrno(code: errno) }
                close(fd)
                guard rename(temporary, options.output) == 0 else { throw CSVWriterErrno(code: errno) }
            }
        } catch {
            if !toStdout {
                close(fd)
                unlink(temporary)
            }
            if let sqlite = error as? SQLiteError { throw Database.storageError(sqlite, path: databasePath) }
            if error is BulkRegError { throw error }
            let name = toStdout ? "standard output" : options.output
            throw BulkRegError(.input, "\(name): cannot write the export: \(error)")
        }
        return count
    }
}

struct CSVWriterErrno: Error, CustomStringConvertible {
    var code: Int32
    var description: String { String(cString: strerror(code)) }
}

/// The union of the imports' headers, so files with different columns export side by side
/// (filtered to some imports: theirs only).
struct ColumnLayout {
    var header: [String] = []
    /// import id → position in `header` of each of its columns.
    var positions: [Int: [Int]] = [:]

    /// The layout of `imports` (none: every import).
    init(connection: Connection, imports: [Int] = []) throws {
        let query = try connection.prepare("SELECT id, header FROM imports ORDER BY id")
        while try query.step() {
            let id = query.int(0)
            if !imports.isEmpty && !imports.contains(id) { continue }
            let columns = query.withBlob(1) { RowCodec.decode($0) }
            var seen: [String: Int] = [:]
            var mapped: [Int] = []
            for name in columns {
                let occurrence = seen[name, default: 0]
                seen[name] = occurrence + 1
                var found: Int?
                var k = 0
                for (i, existing) in header.enumerated() where existing == name {
                    if k == occurrence {
                        found = i
                        break
                    }
                    k += 1
                }
                if let found {
                    mapped.append(found)
                } else {
                    header.append(name)
                    mapped.append(header.count - 1)
                }
            }
            positions[id] = mapped
        }
    }

    /// For each column of `header`, the index of the field of import `importID`'s rows that
    /// fills it, or -1.
    func sources(importID: Int) -> [Int] {
        var out = Array(repeating: -1, count: header.count)
        for (field, position) in (positions[importID] ?? []).enumerated() { out[position] = field }
        return out
    }
}
