import ArgumentParser
import BulkReg
import CSV
import Foundation
import WebinarAPI

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Stream a CSV of leads into the queue.",
        discussion: """
            Headers are matched case- and space-insensitively (Email Address, E-mail, FNAME, First Name,
            Phone Number, ...); --map FIELD=HEADER overrides. Columns webinar_id, schedule, date, timezone
            (and platform) override the flags per row. Every row becomes one job: queued, rejected (with the
            reason) or duplicate (of which job). Importing the same file twice adds nothing.

            Example: bulkreg import leads.csv --webinar 5 --schedule 34
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The CSV file.")
    var file: String

    @Option(name: .long, help: "webinarjam or everwebinar.")
    var platform: Platform = .webinarjam

    @Option(name: .long, help: "Webinar id (from `bulkreg webinars`).")
    var webinar: Int?

    @Option(name: .long, help: "Schedule id (from `bulkreg webinar ID`).")
    var schedule: Int?

    @Option(name: .long, help: "EverWebinar session date, YYYY-MM-DD HH:MM.")
    var date: String?

    @Option(name: .long, help: "EverWebinar timezone, GMT-5 or GMT+4:30.")
    var timezone: String?

    @Option(name: .long, parsing: .singleValue, help: "FIELD=HEADER: take FIELD from column HEADER, or from the Nth column with #N (repeatable). FIELD is first_name, last_name, email, phone, phone_country_code, ip_address, webinar_id, schedule, date, timezone, or an extra API field (country, state, ...).")
    var map: [String] = []

    @Option(name: .long, help: "auto, ',', ';', tab or '|'.")
    var delimiter: String = "auto"

    @Option(name: .long, help: "auto (UTF-8, or UTF-16 by its BOM or zero bytes), utf-8, utf-16le, utf-16be, windows-1252 (Excel \"CSV (Comma delimited)\" on Windows; also latin1) or macroman (Excel \"CSV (Macintosh)\").")
    var encoding: String = "auto"

    func validate() throws {
        if let webinar, webinar <= 0 { throw ValidationError("--webinar must be a positive integer") }
        if let schedule, schedule <= 0 { throw ValidationError("--schedule must be a positive integer") }
        if let date, !LeadValidator.isValidDate(date) {
            throw ValidationError("--date \(date): expected YYYY-MM-DD HH:MM")
        }
        if let timezone, LeadValidator.normalizeTimezone(timezone) == nil {
            throw ValidationError("--timezone \(timezone): expected GMT-5 or GMT+4:30")
        }
        if (date != nil || timezone != nil) && platform != .everwebinar {
            throw ValidationError("--date and --timezone are for --platform everwebinar")
        }
        _ = try overrides()
        _ = try delimiterByte()
        _ = try givenEncoding()
    }

    func givenEncoding() throws -> CSVEncoding? {
        if encoding.lowercased() == "auto" { return nil }
        guard let given = CSVEncoding(name: encoding) else {
            throw ValidationError("--encoding \(encoding): expected auto, " + CSVEncoding.names.joined(separator: ", "))
        }
        return given
    }

    func overrides() throws -> [String: String] {
        var out: [String: String] = [:]
        for item in map {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex, item.index(after: eq) != item.endIndex else {
                throw ValidationError("--map \(item): expected FIELD=HEADER, e.g. --map email=\"E-mail Address\"")
            }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }

    func delimiterByte() throws -> UInt8? {
        switch delimiter.lowercased() {
        case "auto": return nil
        case ",", "comma": return UInt8(ascii: ",")
        case ";", "semicolon": return UInt8(ascii: ";")
        case "tab", "\\t", "\t": return UInt8(ascii: "\t")
        case "|", "pipe": return UInt8(ascii: "|")
        default: throw ValidationError("--delimiter \(delimiter): expected auto, ',', ';', tab or '|'")
        }
    }

    func run() throws {
        let options = ImportOptions(
            file: file,
            defaults: ImportDefaults(
                platform: platform, webinarID: webinar, schedule: schedule, date: date,
                timezone: timezone.flatMap(LeadValidator.normalizeTimezone)),
            overrides: try overrides(), delimiter: try delimiterByte(), encoding: try givenEncoding())
        let summary = try Importer.run(options, databasePath: database.path, now: WallClock.now())
        print(summary.rendered(databasePath: database.path))
    }
}

extension ImportSummary {
    func rendered(databasePath: String) -> String {
        if let at = alreadyImportedAt {
            return "\(file): already imported as import #\(importID) on \(WallClock.iso8601(at)) (\(rowsRead) rows); nothing added."
        }
        var lines = [
            "\(file): \(rowsRead) rows read (\(encoding), delimiter \(delimiter)) into \(databasePath), import #\(importID)",
            "  queued     \(queued)",
            "  rejected   \(rejectedTotal)",
        ]
        for (reason, count) in rejected.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            lines.append("    \(count) × \(reason)")
        }
        lines.append("  duplicate  \(duplicates)" + (duplicates > 0 ? " (\(duplicatesInFile) within the file, \(duplicatesOfEarlierImports) already queued by earlier imports)" : ""))
        if rejectedTotal > 0 {
            lines.append("See each rejected row and its reason with: bulkreg export - --state rejected")
        }
        return lines.joined(separator: "\n")
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Counts per state and per webinar, recent errors, rate and ETA.",
        discussion: "Example: bulkreg status --json")

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .long, help: "One JSON object: total, states, targets, recent_errors, rate_per_second, eta_seconds.")
    var json = false

    func run() throws {
        let report = try StatusReport.load(databasePath: database.path, now: WallClock.now())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(report)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(report.rendered())
        }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the results as CSV: the original columns, then status and the attendee's URLs.",
        discussion: """
            One row per input row, in input order. Columns appended: status, user_id, live_room_url,
            replay_room_url, thank_you_url, error, attempts, registered_at.

            Example: bulkreg export results.csv --state done --excel-safe
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @Option(name: .long, help: "Only rows in this state: queued, in_flight, uncertain, done, failed, rejected, duplicate.")
    var state: String?

    @Flag(name: .long, help: "Prefix ' to cells starting with = + - @ tab or CR, so spreadsheets don't run them as formulas.")
    var excelSafe = false

    func validate() throws {
        if let state, JobState(rawValue: state) == nil {
            throw ValidationError(
                "--state \(state): expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let count = try Exporter.run(
            ExportOptions(output: output, state: state.flatMap(JobState.init(rawValue:)), excelSafe: excelSafe),
            databasePath: database.path)
        if output != "-" {
            Terminal.error("wrote \(count) rows to \(output)".replacingOccurrences(of: "bulkreg: ", with: ""))
        }
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put permanently failed jobs back in the queue (then run again).",
        discussion: """
            A job whose last call may have reached the vendor is never sent again blind: it goes back as
            `uncertain`, and the next run checks with the vendor's registrants first. `--job N --force` sends
            one such job without that check (it may register the person twice).

            Example: bulkreg retry && bulkreg run
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Only this job (its id is in the export's error and in status).")
    var job: Int?

    @Flag(name: .long, help: "With --job: send an uncertain (possibly registered) job again without checking first.")
    var force = false

    func validate() throws {
        if force && job == nil { throw ValidationError("--force needs --job N: it is a decision about one lead") }
    }

    func run() async throws {
        let store = try JobStore(path: database.path)
        let result = try await store.retry(job: job, force: force, now: WallClock.now())
        if result.forced > 0 {
            Terminal.error(
                "job \(job ?? 0) will be sent again without checking whether its last call registered the person: "
                    + "if it did, the person is registered twice")
        }
        var parts: [String] = []
        let queued = result.queued + result.forced
        parts.append("\(queued) job\(queued == 1 ? "" : "s") back in the queue")
        if result.toCheck > 0 {
            parts.append("\(result.toCheck) to be checked with the vendor first (their last call may have registered them)")
        }
        print(parts.joined(separator: "; ") + "; run `bulkreg run` to register them.")
    }
}
