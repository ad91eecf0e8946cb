import CSV
import SQLite
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `bulkreg import` was asked to do.
public struct ImportOptions: Sendable {
    public var file: String
    public var defaults: ImportDefaults
    /// `--map FIELD=HEADER`.
    public var overrides: [String: String]
    /// nil: sniff among `,` `;` tab `|`.
    public var delimiter: UInt8?

    public init(file: String, defaults: ImportDefaults, overrides: [String: String] = [:], delimiter: UInt8? = nil) {
        self.file = file
        self.defaults = defaults
        self.overrides = overrides
        self.delimiter = delimiter
    }
}

/// What an import did, row by row accounted for.
public struct ImportSummary: Sendable, Equatable {
    public var file: String
    public var importID: Int
    /// Set when the same bytes were imported before: nothing was added.
    public var alreadyImportedAt: Double?
    public var rowsRead = 0
    public var queued = 0
    public var duplicatesInFile = 0
    public var duplicatesOfEarlierImports = 0
    /// Rejection reason → rows.
    public var rejected: [String: Int] = [:]
    public var delimiter = ","
    public var encoding = "UTF-8"

    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    public var duplicates: Int { duplicatesInFile + duplicatesOfEarlierImports }
}

/// Streams a CSV into the job queue in one transaction: every row becomes exactly one job
/// (`queued`, `rejected` with its reason, or `duplicate` of an earlier job), or, on a
/// file-level error, nothing at all is stored.
public enum Importer {
    /// Imports `options.file` into the database at `databasePath`.
    public static func run(_ options: ImportOptions, databasePath: String, now: Double) throws -> ImportSummary {
        let file = options.file
        try checkInputFile(file)
        let hash = try ContentHash.of(path: file)
        let reader = try openReader(file, delimiter: options.delimiter)
        guard let headerRecord = try next(reader, file: file) else {
            throw BulkRegError(.input, "\(file): no header row (the file has only blank lines)")
        }
        let header = headerRecord.fields.map { LeadValidator.trim($0) }
        let map = try FieldMap(header: header, overrides: options.overrides, file: file)
        let validator = LeadValidator(map: map, defaults: options.defaults)

        let existed = access(databasePath, F_OK) == 0
        let connection: Connection
        do {
            connection = try Database.open(databasePath, mode: .create)
        }
        var summary = ImportSummary(file: file, importID: 0)
        summary.delimiter = reader.delimiter.description
        summary.encoding = reader.encoding.description
        do {
            let previous = try connection.prepare(
                "SELECT id, imported_at, rows FROM imports WHERE content_hash = ? AND byte_size = ?")
            try previous.bind([.text(hash.hex), .int(Int64(hash.byteCount))])
            if try previous.step() {
                summary.importID = previous.int(0)
                summary.alreadyImportedAt = previous.double(1)
                summary.rowsRead = previous.int(2)
                return summary
            }
            try connection.execute("PRAGMA cache_size = -32768")
            try connection.transaction(.immediate) {
                try insertAll(
                    connection: connection, reader: reader, header: header, validator: validator,
                    options: options, hash: hash, now: now, summary: &summary)
            }
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
        connection: Connection, reader: CSVReader, header: [String], validator: LeadValidator,
        options: ImportOptions, hash: ContentHash, now: Double, summary: inout ImportSummary
    ) throws {
        let file = options.file
        let d = options.defaults
        let insertImport = try connection.prepare(
            """
            INSERT INTO imports (file_name, content_hash, byte_size, imported_at, platform, webinar_id,
                schedule, date, timezone, delimiter, encoding, header)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try insertImport.bind([
            .text(file), .text(hash.hex), .int(Int64(hash.byteCount)), .double(now),
            .text(d.platform.rawValue), .int(d.webinarID), .int(d.schedule), .text(d.date), .text(d.timezone),
            .text(summary.delimiter), .text(summary.encoding), .blob(RowCodec.encode(header)),
        ])
        try insertImport.step()
        let importID = connection.lastInsertRowID
        summary.importID = Int(importID)

        let insertLead = try connection.prepare(
            """
            INSERT INTO jobs (import_id, line, row, state, platform, webinar_id, schedule, date, timezone,
                first_name, last_name, email, phone_country_code, phone, ip_address, extra, owner, updated_at)
            VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16)
            ON CONFLICT DO NOTHING
            """)
        let findOwner = try connection.prepare(
            """
            SELECT id, import_id FROM jobs
            WHERE webinar_id = ? AND schedule = ? AND platform = ? AND lower(email) = lower(?) AND owner = 1
            """)
        let insertOther = try connection.prepare(
            """
            INSERT INTO jobs (import_id, line, row, state, platform, webinar_id, schedule, date, timezone,
                first_name, last_name, email, phone_country_code, phone, ip_address, duplicate_of, error, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
            """)
        let width = header.count
        while let record = try next(reader, file: file) {
            summary.rowsRead += 1
            var fields = record.fields
            var rejection: String?
            if fields.count > width {
                // Trailing empty cells (a spreadsheet's stray delimiters) are harmless.
                while fields.count > width, fields.last?.isEmpty == true { fields.removeLast() }
                if fields.count > width {
                    rejection = "row has \(fields.count) fields, the header has \(width)"
                }
            }
            if fields.count < width {
                fields.append(contentsOf: repeatElement("", count: width - fields.count))
            }
            if rejection == nil && fields == header && summary.rowsRead > 0 {
                rejection = "repeated header row"
            }
            let rowBlob = RowCodec.encode(rejection == nil ? fields : record.fields)
            if let reason = rejection {
                try insertOther.run([
                    .int(importID), .int(Int64(record.line)), .blob(rowBlob), .text(JobState.rejected.rawValue),
                    .text(d.platform.rawValue), .null, .null, .null, .null, .null, .null, .null, .null, .null, .null,
                    .null, .text(reason), .double(now),
                ])
                summary.rejected[reason, default: 0] += 1
                continue
            }
            switch validator.validate(fields) {
            case .failure(let rejected):
                try insertOther.run([
                    .int(importID), .int(Int64(record.line)), .blob(rowBlob), .text(JobState.rejected.rawValue),
                    .text(d.platform.rawValue), .null, .null, .null, .null, .null, .null, .null, .null, .null, .null,
                    .null, .text(rejected.reason), .double(now),
                ])
                summary.rejected[rejected.reason, default: 0] += 1
            case .success(let lead):
                let leadValues: [SQLiteValue] = [
                    .text(lead.platform.rawValue), .int(lead.webinarID), .int(lead.schedule), .text(lead.date),
                    .text(lead.timezone), .text(lead.firstName), .text(lead.lastName), .text(lead.email),
                    .text(lead.phoneCountryCode), .text(lead.phone), .text(lead.ipAddress),
                ]
                let extra: SQLiteValue =
                    lead.extras.isEmpty ? .null : .blob(RowCodec.encode(lead.extras.flatMap { [$0.0, $0.1] }))
                try insertLead.run([.int(importID), .int(Int64(record.line)), .blob(rowBlob)] + leadValues + [extra, .double(now)])
                if connection.changes == 1 {
                    summary.queued += 1
                    continue
                }
                findOwner.reset()
                try findOwner.bind([.int(lead.webinarID), .int(lead.schedule), .text(lead.platform.rawValue), .text(lead.email)])
                guard try findOwner.step() else {
                    throw BulkRegError(.unexpected, "\(file): line \(record.line): duplicate without an owner")
                }
                let owner = findOwner.int64(0)
                let sameImport = findOwner.int64(1) == importID
                findOwner.reset()
                if sameImport { summary.duplicatesInFile += 1 } else { summary.duplicatesOfEarlierImports += 1 }
                try insertOther.run(
                    [.int(importID), .int(Int64(record.line)), .blob(rowBlob), .text(JobState.duplicate.rawValue)]
                        + leadValues + [.int(owner), .text("duplicate of job \(owner)"), .double(now)])
            }
        }
        let update = try connection.prepare(
            "UPDATE imports SET rows = ?, queued = ?, rejected = ?, duplicates = ? WHERE id = ?")
        try update.run([
            .int(Int64(summary.rowsRead)), .int(Int64(summary.queued)), .int(Int64(summary.rejectedTotal)),
            .int(Int64(summary.duplicates)), .int(importID),
        ])
    }

    // MARK: input checks

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

    static func openReader(_ file: String, delimiter: UInt8?) throws -> CSVReader {
        do {
            return try CSVReader(path: file, options: CSVReaderOptions(delimiter: delimiter.flatMap { CSVDelimiter(byte: $0) }))
        } catch {
            throw BulkRegError(.input, "\(file): \(error)")
        }
    }

    static func next(_ reader: CSVReader, file: String) throws -> CSVRecord? {
        do {
            return try reader.next()
        } catch {
            throw BulkRegError(.input, "\(file): \(error)")
        }
    }

    static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}
