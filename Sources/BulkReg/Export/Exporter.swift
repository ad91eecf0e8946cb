import CSV
import SQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `bulkreg export` was asked to do.
public struct ExportOptions: Sendable {
    /// A file path, or `-` for standard output.
    public var output: String
    public var state: JobState?
    /// Prefix `'` to cells that a spreadsheet would run as a formula.
    public var excelSafe: Bool

    public init(output: String, state: JobState? = nil, excelSafe: Bool = false) {
        self.output = output
        self.state = state
        self.excelSafe = excelSafe
    }
}

/// Writes one row per input row, in input order: the original columns, then the outcome.
///
/// A file is written to a temporary sibling (mode 0600) and renamed into place when
/// complete, so a failure (disk full, interrupted) never leaves a half-written export.
public enum Exporter {
    /// Columns appended after the original ones.
    public static let resultColumns = [
        "status", "user_id", "live_room_url", "replay_room_url", "thank_you_url", "error", "attempts",
        "registered_at",
    ]

    /// Exports; returns the number of data rows written.
    @discardableResult
    public static func run(_ options: ExportOptions, databasePath: String) throws -> Int {
        let connection = try Database.open(databasePath, mode: .existing)
        let layout = try ColumnLayout(connection: connection)

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
            let writer = CSVWriter(fileDescriptor: fd, options: CSVWriterOptions(excelSafe: options.excelSafe))
            try writer.write(record: layout.header + resultColumns)
            let sql = """
                SELECT j.import_id, j.row, j.state, j.error, j.attempts, r.user_id, r.live_room_url,
                       r.replay_room_url, r.thank_you_url, r.registered_at, r.source
                FROM jobs j LEFT JOIN results r ON r.job_id = j.id
                \(options.state == nil ? "" : "WHERE j.state = ?1")
                ORDER BY j.id
                """
            let query = try connection.prepare(sql)
            if let state = options.state { try query.bind(1, state.rawValue) }
            // Fields go from SQLite's buffers to the writer as bytes: no String per value.
            var spans: [UnsafeRawBufferPointer] = []
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            var lastImport = Int.min
            var sources: [Int] = []
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
                try query.withBlob(2) { try writer.writeField(utf8: $0) }  // state
                try writer.writeField(query.optionalInt(5).map(String.init) ?? "")  // user_id
                for column: Int32 in 6...8 { try query.withBlob(column) { try writer.writeField(utf8: $0) } }  // URLs
                try query.withBlob(3) { error in
                    if error.isEmpty && query.text(10) == "registrants" {
                        try writer.writeField("registered earlier (found via registrants); thank-you URL not known")
                    } else {
                        try writer.writeField(utf8: error)
                    }
                }
                try writer.writeField(String(query.int(4)))  // attempts
                try writer.writeField(query.optionalDouble(9).map(WallClock.iso8601) ?? "")
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

/// The union of the imports' headers, so files with different columns export side by side.
struct ColumnLayout {
    var header: [String] = []
    /// import id → position in `header` of each of its columns.
    var positions: [Int: [Int]] = [:]

    init(connection: Connection) throws {
        let query = try connection.prepare("SELECT id, header FROM imports ORDER BY id")
        while try query.step() {
            let id = query.int(0)
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
