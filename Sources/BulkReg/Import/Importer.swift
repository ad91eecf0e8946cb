import CSV
import SQLite
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `bulkreg import` was asked to do.
package struct ImportOptions: Sendable {
    package var file: String
    package var defaults: ImportDefaults
    /// `--map FIELD=HEADER` (`FIELD=-`: the field from no column).
    package var overrides: [String: String]
    /// `--ignore HEADER`: columns never mapped.
    package var ignored: [String]
    /// `--set FIELD=VALUE`: a value for every row.
    package var sets: [String]
    /// `--value FIELD:TEXT=VALUE`: a cell's text translated.
    package var values: [String]
    /// `--delimiter`, `--encoding` (nil: sniffed, detected) and the reader's caps.
    package var reading: CSVReaderOptions

    package init(
        file: String,
        defaults: ImportDefaults,
        overrides: [String: String] = [:],
        ignored: [String] = [],
        sets: [String] = [],
        values: [String] = [],
        reading: CSVReaderOptions = CSVReaderOptions()
    ) {
        self.file = file
        self.defaults = defaults
        self.overrides = overrides
        self.ignored = ignored
        self.sets = sets
        self.values = values
        self.reading = reading
    }
}

/// What an import did, row by row accounted for.
package struct ImportSummary: Sendable, Equatable {
    package var file: String
    package var importID: Int
    /// Set when the same bytes were imported before with the same target and mapping:
    /// nothing was added.
    package var alreadyImportedAt: Double?
    package var rowsRead = 0
    package var queued = 0
    /// Rows for a person whose job (queued, failed or cancelled) came from an earlier import:
    /// that job is replaced by this row, queued again.
    package var updated = 0
    package var duplicatesInFile = 0
    /// Rows for a person an earlier import already registered (`done`): never sent again.
    package var alreadyRegistered = 0
    /// Rows for a person whose job is being sent or checked now (`in_flight`, `uncertain`):
    /// left alone.
    package var leftAlone = 0
    /// Rows with no value at all (`,,,,`): skipped.
    package var blank = 0
    /// Rejection reason → rows.
    package var rejected: [String: Int] = [:]
    /// Warning (what was left out of a lead's request) → rows.
    package var warnings: [String: Int] = [:]
    /// `field ← "Header"`, every mapped field.
    package var mapping: [String] = []
    package var delimiter = ","
    package var encoding = "UTF-8"

    package var rejectedTotal: Int { rejected.values.reduce(0, +) }
    package var duplicatesOfEarlierImports: Int { alreadyRegistered + leftAlone }
    package var duplicates: Int { duplicatesInFile + duplicatesOfEarlierImports }
}

/// Streams a CSV into the job queue in one transaction: every row becomes exactly one job
/// (`queued`, `rejected` with its reason, or `duplicate` of an earlier job), or, on a
/// file-level error, nothing at all is stored.
package enum Importer {
    /// Imports `options.file` into the database at `databasePath`.
    package static func run(_ options: ImportOptions, databasePath: String, now: Double) throws -> ImportSummary {
        let file = options.file
        try checkInputFile(file)
        let hash = try ContentHash.of(path: file)
        let reader = try openReader(file, options.reading)
        // Lines of only spaces or delimiters before the header are blank lines too.
        var first = try next(reader, file: file)
        while let record = first, record.fields.allSatisfy({ LeadText.trim($0).isEmpty }) {
            first = try next(reader, file: file)
        }
        guard let headerRecord = first else {
            throw BulkRegError(.input, "\(file): no header row (the file has only blank lines)")
        }
        let header = headerRecord.fields.map { LeadText.trim($0) }
        let map = try FieldMap(
            header: header,
            overrides: options.overrides,
            ignored: options.ignored,
            sets: options.sets,
            values: options.values,
            file: file
        )
        try checkTarget(options.defaults, map: map, file: file)
        let validator = LeadValidator(map: map, defaults: options.defaults, importedAt: now)

        let existed = access(databasePath, F_OK) == 0
        let connection: Connection
        do {
            connection = try Database.open(databasePath, mode: .create)
        }
        var summary = ImportSummary(file: file, importID: 0)
        summary.delimiter = reader.delimiter.description
        summary.encoding = reader.encoding.description
        summary.mapping = map.describe(header: header)
        do {
            // An import is its bytes, its target and its mapping: the same file into another
            // webinar, or read with another --map, is a new import.
            let d = options.defaults
            let previous = try connection.prepare(
                """
                SELECT id, imported_at, rows FROM imports
                WHERE content_hash = ? AND byte_size = ? AND platform = ? AND webinar_id IS ? AND schedule IS ?
                    AND date IS ? AND timezone IS ? AND overrides = ? AND ignored = ? AND delimiter = ?
                    AND encoding = ?
                ORDER BY id LIMIT 1
                """
            )
            try previous.bind([
                .text(hash.hex), .int(Int64(hash.byteCount)), .text(d.platform.rawValue), .int(d.webinarID),
                .int(d.schedule), .text(d.date), .text(d.timezone), .blob(RowCodec.encode(Self.flat(options))),
                .text(Self.joined(options.ignored)), .text(summary.delimiter), .text(summary.encoding),
            ])
            if try previous.step() {
                summary.importID = previous.int(0)
                summary.alreadyImportedAt = previous.double(1)
                summary.rowsRead = previous.int(2)
                return summary
            }
            try connection.execute("PRAGMA cache_size = -32768")
            // A database this import creates is written with a rollback journal (like the
            // sqlite3 shell's .import), which writes each page once instead of twice (WAL, then
            // checkpoint); it is switched to WAL, which the runner needs, once committed.
            if !existed { try connection.execute("PRAGMA journal_mode = DELETE") }
            try connection.transaction(.immediate) {
                try insertAll(
                    connection: connection,
                    reader: reader,
                    header: header,
                    validator: validator,
                    options: options,
                    hash: hash,
                    now: now,
                    summary: &summary
                )
            }
            if !existed { try connection.execute("PRAGMA journal_mode = WAL") }
        } catch let error as SQLiteError {
            if !existed { removeDatabase(databasePath) }
            throw Database.storageError(error, path: databasePath)
        } catch {
            if !existed { removeDatabase(databasePath) }
            throw error
        }
        return summary
    }

    private static func insertAll(
        connection: Connection,
        reader: CSVReader,
        header: [String],
        validator: LeadValidator,
        options: ImportOptions,
        hash: ContentHash,
        now: Double,
        summary: inout ImportSummary
    ) throws {
        let file = options.file
        let d = options.defaults
        let insertImport = try connection.prepare(
            """
            INSERT INTO imports (file_name, content_hash, byte_size, imported_at, platform, webinar_id,
                schedule, date, timezone, delimiter, encoding, header, overrides, ignored, mapping)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        try insertImport.bind([
            .text(file), .text(hash.hex), .int(Int64(hash.byteCount)), .double(now),
            .text(d.platform.rawValue), .int(d.webinarID), .int(d.schedule), .text(d.date), .text(d.timezone),
            .text(summary.delimiter), .text(summary.encoding), .blob(RowCodec.encode(header)),
            .blob(RowCodec.encode(flat(options))), .text(joined(options.ignored)),
            .text(validator.map.stored),
        ])
        try insertImport.step()
        let importID = connection.lastInsertRowID
        summary.importID = Int(importID)

        // One statement per outcome, bound column by column: this loop runs a million times.
        let insertQueued = try connection.prepare(
            """
            INSERT INTO jobs (import_id, line, state, target_id, person, row)
            VALUES (?1, ?2, 'queued', ?3, ?4, ?5) ON CONFLICT DO NOTHING
            """
        )
        let insertOther = try connection.prepare(
            """
            INSERT INTO jobs (import_id, line, state, target_id, row, duplicate_of, error)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """
        )
        let findPerson = try connection.prepare(
            "SELECT id, import_id, row, state, maybe_sent, sent_at FROM jobs WHERE person = ?"
        )
        // A corrected row takes over its person's earlier job: the earlier row becomes a
        // duplicate of the new one (it stays in the export, with the new job's outcome), and
        // so do the rows that duplicated it.
        let releasePerson = try connection.prepare("UPDATE jobs SET person = NULL WHERE id = ?")
        let retire = try connection.prepare(
            JobEvent.replace.update(set: "updated_at = ?3, duplicate_of = ?2, error = ?4", where: "id = ?1")
        )
        let repoint = try connection.prepare(
            """
            UPDATE jobs SET duplicate_of = ?2,
                error = CASE WHEN error LIKE 'duplicate of job %' THEN 'duplicate of job ' || ?2 ELSE error END
            WHERE duplicate_of = ?1 AND id != ?1
            """
        )
        let carryCheck = try connection.prepare(
            JobEvent.carryCheck.update(set: "maybe_sent = 1, sent_at = ?2, error = ?3", where: "id = ?1")
        )
        // Bulk mode, when no job holds a person key yet (a first import, however big): the
        // unique index is dropped and rebuilt at the end (one sort instead of a million random
        // b-tree inserts), and duplicates within the file are caught by an in-memory set of
        // keys, then confirmed against the rebuilt index. DDL is transactional: an error
        // midway restores the indexes with everything else.
        let bulk =
            try connection.scalarInt("SELECT count(*) FROM (SELECT 1 FROM jobs WHERE person IS NOT NULL LIMIT 1)") == 0
        if bulk {
            try connection.execute("DROP INDEX jobs_person; DROP INDEX jobs_queued; PRAGMA cache_size = -8192")
        }
        var candidates: [Int64] = []
        var targets = TargetTable(connection: connection)
        let maps = ImportMaps(connection: connection)

        var batch = PreparedBatch()
        func insertOtherRow(
            _ row: PreparedRow,
            state: JobState,
            target: Int64?,
            duplicateOf: Int64?,
            error: String?
        ) throws {
            insertOther.reset()
            try insertOther.bind(1, importID)
            try insertOther.bind(2, Int64(row.line))
            try insertOther.bind(3, state.rawValue)
            try insertOther.bind(4, target)
            try insertOther.bind(5, bytes: batch.bytes, range: row.range)
            try insertOther.bind(6, duplicateOf)
            try insertOther.bind(7, error)
            try insertOther.step()
        }

        func insertQueuedRow(_ row: PreparedRow, target: Int64, person: Int64?) throws -> Bool {
            insertQueued.reset()
            try insertQueued.bind(1, importID)
            try insertQueued.bind(2, Int64(row.line))
            try insertQueued.bind(3, target)
            try insertQueued.bind(4, person)
            try insertQueued.bind(5, bytes: batch.bytes, range: row.range)
            try insertQueued.step()
            return connection.changes == 1
        }

        let preparer = RowPreparer(
            reader: reader,
            header: header,
            validator: validator,
            file: file,
            bulk: bulk,
            expectedBytes: hash.byteCount
        )
        do {
            while let next = try preparer.next() {
                batch = next
                for row in batch.rows {
                    guard case .lead(let targetKey, let email, let key, let seenBefore) = row.kind else {
                        if case .rejected(let reason) = row.kind {
                            try insertOtherRow(row, state: .rejected, target: nil, duplicateOf: nil, error: reason)
                        }
                        continue
                    }
                    let target = try targets.id(targetKey)
                    var person: Int64? = key
                    if bulk {
                        if !seenBefore {
                            _ = try insertQueuedRow(row, target: target, person: person)
                            summary.queued += 1
                        } else {
                            try insertOtherRow(row, state: .duplicate, target: target, duplicateOf: nil, error: nil)
                            candidates.append(connection.lastInsertRowID)
                        }
                        continue
                    }
                    while true {
                        if try insertQueuedRow(row, target: target, person: person) {
                            summary.queued += 1
                            break
                        }
                        // Someone holds this person key: the same person (a duplicate), or, once
                        // in billions, another one whose key collides (then queue without a key).
                        findPerson.reset()
                        try findPerson.bind(1, person)
                        guard try findPerson.step() else {
                            throw BulkRegError(.unexpected, "\(file): line \(row.line): duplicate without an owner")
                        }
                        let owner = findPerson.int64(0)
                        let ownerImport = findPerson.int(1)
                        let ownerRow = findPerson.withBlob(2) { RowCodec.decode($0) }
                        let ownerState = JobState(rawValue: findPerson.text(3) ?? "")
                        let ownerMaybeSent = findPerson.int(4) != 0
                        let ownerSentAt = findPerson.optionalDouble(5)
                        findPerson.reset()
                        let ownerLead =
                            ownerImport == Int(importID)
                            ? validator.validate(ownerRow).ok : try? maps.lead(import: ownerImport, row: ownerRow)
                        // An owner whose row cannot be read again is taken for the same person:
                        // a duplicate is safe, queueing a second job might register someone twice.
                        if ownerLead == nil || ownerLead!.email.lowercased() == email.lowercased() {
                            let replace =
                                ownerImport != Int(importID)
                                && ownerState.map { JobEvent.replace.transition.from.contains($0) } == true
                            if replace {
                                try releasePerson.run([.int(owner)])  // the key moves to the new row
                                guard try insertQueuedRow(row, target: target, person: person) else {
                                    throw BulkRegError(.unexpected, "\(file): line \(row.line): person key still taken")
                                }
                                let newID = connection.lastInsertRowID
                                try retire.run([
                                    .int(owner), .int(newID), .double(now),
                                    .text("replaced by line \(row.line) of import #\(importID) (job \(newID))"),
                                ])
                                try repoint.run([.int(owner), .int(newID)])
                                if ownerMaybeSent {
                                    // Its last call may have registered the person: checked first.
                                    try carryCheck.run([
                                        .int(newID), .double(ownerSentAt ?? now),
                                        .text("replaces job \(owner), whose last call may have reached the vendor"),
                                    ])
                                }
                                summary.updated += 1
                                break
                            }
                            if ownerImport == Int(importID) {
                                summary.duplicatesInFile += 1
                            } else if ownerState == .done {
                                summary.alreadyRegistered += 1
                            } else {
                                summary.leftAlone += 1
                            }
                            try insertOtherRow(
                                row,
                                state: .duplicate,
                                target: target,
                                duplicateOf: owner,
                                error: "duplicate of job \(owner)"
                            )
                            break
                        }
                        person = nil
                    }
                }
            }
        } catch {
            preparer.cancel()
            throw error
        }
        summary.rowsRead = preparer.rowsRead
        summary.rejected = preparer.rejected
        summary.warnings = preparer.warnings
        summary.blank = preparer.blank
        if bulk {
            try connection.execute(
                "CREATE UNIQUE INDEX jobs_person ON jobs(person); CREATE INDEX jobs_queued ON jobs(id) WHERE state = 'queued'"
            )
            try confirmDuplicates(
                candidates,
                connection: connection,
                validator: validator,
                importID: importID,
                summary: &summary
            )
        }
        let update = try connection.prepare(
            "UPDATE imports SET rows = ?, queued = ?, rejected = ?, duplicates = ?, blank = ?, updated = ? WHERE id = ?"
        )
        try update.run([
            .int(Int64(summary.rowsRead)), .int(Int64(summary.queued)), .int(Int64(summary.rejectedTotal)),
            .int(Int64(summary.duplicates)), .int(Int64(summary.blank)), .int(Int64(summary.updated)), .int(importID),
        ])
    }

    /// Bulk mode's second step: each row the in-memory set took for a duplicate is checked
    /// against the row that holds its key: the same email → a duplicate of that job; another
    /// email (a 64-bit key collision) → queued after all, without a key.
    private static func confirmDuplicates(
        _ candidates: [Int64],
        connection: Connection,
        validator: LeadValidator,
        importID: Int64,
        summary: inout ImportSummary
    ) throws {
        guard !candidates.isEmpty else { return }
        let read = try connection.prepare("SELECT row, target_id FROM jobs WHERE id = ?")
        let owner = try connection.prepare("SELECT id, row FROM jobs WHERE person = ?")
        let markDuplicate = try connection.prepare("UPDATE jobs SET duplicate_of = ?, error = ? WHERE id = ?")
        let requeue = try connection.prepare(JobEvent.collision.update(set: "updated_at = updated_at", where: "id = ?"))
        for id in candidates {
            read.reset()
            try read.bind(1, id)
            guard try read.step() else { continue }
            let row = read.withBlob(0) { RowCodec.decode($0) }
            guard let lead = validator.validate(row).ok else { continue }
            owner.reset()
            let target = Target(
                platform: lead.platform,
                webinarID: lead.webinarID,
                schedule: lead.schedule,
                date: lead.date ?? ""
            )
            try owner.bind(1, PersonKey.of(target, email: lead.email))
            if try owner.step(), let ownerLead = validator.validate(owner.withBlob(1) { RowCodec.decode($0) }).ok,
                ownerLead.email.lowercased() == lead.email.lowercased()
            {
                let ownerID = owner.int64(0)
                try markDuplicate.run([.int(ownerID), .text("duplicate of job \(ownerID)"), .int(id)])
                summary.duplicatesInFile += 1
            } else {
                try requeue.run([.int(id)])
                summary.queued += 1
            }
        }
    }

    /// The mapping options as stored (part of what identifies an import): the `--map` pairs
    /// sorted, flattened, then each `--set` and `--value` (sorted) under the keys `=set` and
    /// `=value`, which no `--map` FIELD can be (it never holds `=`).
    static func flat(_ options: ImportOptions) -> [String] {
        options.overrides.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
            + options.sets.sorted().flatMap { ["=set", $0] } + options.values.sorted().flatMap { ["=value", $0] }
    }

    /// The stored `--map` pairs back (`flat`'s inverse, without the rules).
    static func overrides(flat: [String]) -> [String: String] {
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < flat.count {
            if !flat[i].hasPrefix("=") { out[flat[i]] = flat[i + 1] }
            i += 2
        }
        return out
    }

    /// `--ignore` headers as stored.
    static func joined(_ ignored: [String]) -> String { ignored.sorted().joined(separator: "\u{1F}") }

    // MARK: input checks

    /// No webinar or schedule, from the flags or a column: nothing could ever be sent.
    static func checkTarget(_ defaults: ImportDefaults, map: FieldMap, file: String) throws {
        let columns = map.hasTargetColumns
        var missing: [String] = []
        if defaults.webinarID == nil && !columns.webinar { missing.append("--webinar ID") }
        if defaults.schedule == nil && !columns.schedule { missing.append("--schedule ID") }
        guard !missing.isEmpty else { return }
        throw BulkRegError(
            .usage,
            "\(file): no webinar to register these leads into: give \(missing.joined(separator: " and ")) "
                + "(find them with `bulkreg webinars` and `bulkreg webinar ID`), or columns named exactly "
                + "webinar_id and schedule. Nothing was imported."
        )
    }

    /// Missing, a directory, unreadable, or empty: one clear line, before anything is opened.
    static func checkInputFile(_ file: String) throws {
        var info = stat()
        guard stat(file, &info) == 0 else {
            throw BulkRegError(.input, "\(file): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw BulkRegError(.input, "\(file): is a directory, not a CSV file")
        }
        guard access(file, R_OK) == 0 else {
            throw BulkRegError(.input, "\(file): not readable: \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFREG && info.st_size == 0 {
            throw BulkRegError(.input, "\(file): the file is empty (expected a header row and leads)")
        }
    }

    static func openReader(_ file: String, _ options: CSVReaderOptions) throws -> CSVReader {
        do {
            return try CSVReader(path: file, options: options)
        } catch {
            throw BulkRegError(.input, "\(file): \(error)")
        }
    }

    static func next(_ reader: CSVReader, file: String) throws -> CSVRecord? {
        do {
            return try reader.next()
        } catch  where error.code == .invalidUTF8 {
            throw BulkRegError(
                .input,
                "\(file): \(error), or name its encoding: --encoding windows-1252 (Excel \"CSV (Comma delimited)\" "
                    + "on Windows) or --encoding macroman (Excel \"CSV (Macintosh)\")"
            )
        } catch {
            throw BulkRegError(.input, "\(file): \(error)")
        }
    }

    static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}

/// Target ids for an import: one row per (platform, webinar, schedule, date), cached.
struct TargetTable {
    let connection: Connection
    var cache: [Target: Int64] = [:]

    init(connection: Connection) {
        self.connection = connection
    }

    var last: (Target, Int64)?

    mutating func id(_ target: Target) throws -> Int64 {
        if let last, last.0 == target { return last.1 }
        if let id = cache[target] {
            last = (target, id)
            return id
        }
        let insert = try connection.cached(
            "INSERT INTO targets (platform, webinar_id, schedule, date) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        try insert.run([
            .text(target.platform.rawValue), .int(Int64(target.webinarID)), .int(Int64(target.schedule)),
            .text(target.date),
        ])
        let find = try connection.cached(
            "SELECT id FROM targets WHERE platform = ? AND webinar_id = ? AND schedule = ? AND date = ?"
        )
        defer { find.reset() }
        try find.bind([
            .text(target.platform.rawValue), .int(Int64(target.webinarID)), .int(Int64(target.schedule)),
            .text(target.date),
        ])
        guard try find.step() else { throw BulkRegError(.unexpected, "target \(target) not stored") }
        let id = find.int64(0)
        cache[target] = id
        last = (target, id)
        return id
    }
}

extension Result {
    var ok: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}
