import SQLite
import WebinarAPI

/// Rebuilds a job's lead from its stored row: the row is kept exactly as read (for the
/// export), and the import's header, `--map` overrides and defaults say how to read it. So the
/// lead fields are stored once, and the runner validates with the same rules as the import.
final class ImportMaps {
    private var validators: [Int: LeadValidator] = [:]
    private let connection: Connection

    init(connection: Connection) {
        self.connection = connection
    }

    /// The validator of import `id`.
    func validator(import id: Int) throws -> LeadValidator {
        if let v = validators[id] { return v }
        let q = try connection.cached(
            "SELECT file_name, header, overrides, platform, webinar_id, schedule, date, timezone, mapping, ignored, imported_at FROM imports WHERE id = ?"
        )
        defer { q.reset() }
        try q.bind(1, Int64(id))
        guard try q.step() else {
            throw BulkRegError(.storage, "import #\(id) is missing from the database")
        }
        let header = q.withBlob(1) { RowCodec.decode($0) }
        let overrides = Importer.overrides(flat: q.withBlob(2) { RowCodec.decode($0) })
        let defaults = ImportDefaults(
            platform: Platform(rawValue: q.text(3) ?? "") ?? .webinarjam,
            webinarID: q.optionalInt(4),
            schedule: q.optionalInt(5),
            date: q.text(6),
            timezone: q.text(7)
        )
        // The map the import used, as stored (imports before schema 3: derived again).
        let map: FieldMap
        if let stored = q.text(8).flatMap(FieldMap.init(stored:)) {
            map = stored
        } else {
            let ignored = (q.text(9) ?? "").split(separator: "\u{1F}").map(String.init)
            map = try FieldMap(
                header: header,
                overrides: overrides,
                ignored: ignored,
                file: q.text(0) ?? "import #\(id)"
            )
        }
        let validator = LeadValidator(map: map, defaults: defaults, importedAt: q.double(10))
        validators[id] = validator
        return validator
    }

    /// The lead of a stored row, padded to the header's width as at import.
    func lead(import id: Int, row: [String]) throws -> Lead {
        let validator = try validator(import: id)
        switch validator.validate(row) {
        case .success(let lead): return lead
        case .failure(let rejection):
            throw BulkRegError(.unexpected, "a queued row no longer validates (\(rejection.reason))")
        }
    }
}
