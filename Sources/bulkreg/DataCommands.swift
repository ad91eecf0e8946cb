import ArgumentParser
import BulkReg
import CSV
import Foundation
import Pacing
import WebinarAPI

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Stream a CSV of leads into the queue.",
        discussion: """
            Headers are matched case- and space-insensitively (Email Address, E-mail, FNAME, First Name, \
            Phone Number, ...); the summary shows which column feeds which field. --map FIELD=HEADER \
            overrides, --map FIELD=- leaves a field out, --ignore HEADER leaves a column out. Columns named \
            exactly webinar_id, schedule, date, timezone and platform override the flags per row.

            Fields some webinars require: country, state, twilio_consent (SMS opt-in: yes/no, y/n, \
            true/false, 1/0, x or ✓/empty become true/false) and timezone_id. A custom question is sent \
            under its label (--map "What is your role?=Role"); a FIELD ending in [] is multi-valued (the \
            cell is split on ; or |, each value sent as a repeated FIELD[]). --set FIELD=VALUE gives every \
            row one value; --value FIELD:TEXT=VALUE translates a cell's text (a dropdown's option id: \
            --value "Company size:11-50=2").

            Every row becomes one job: queued, rejected (with the reason) or duplicate (of which job). \
            Importing the same file with the same target and options again adds nothing; into another \
            webinar it is a new import. A corrected file fixes its leads: a lead whose earlier job is \
            queued, failed or cancelled takes the new row's data and is queued again; one already \
            registered is never sent again.

            Example: bulkreg import leads.csv --webinar 5 --schedule 34
            Example: bulkreg import crm.csv --webinar 5 --schedule 34 --set twilio_consent=true \
            --map "Interests[]=Interests" --value "Interests:SEO=3"
            """
    )

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

    @Option(
        name: .long,
        parsing: .singleValue,
        help:
            "FIELD=HEADER: take FIELD from column HEADER, or from the Nth column with #N (repeatable). FIELD is first_name, last_name, email, phone, phone_country_code, ip_address, country, state, twilio_consent, timezone_id, webinar_id, schedule, date, timezone, or another API field or a custom question's label (NAME[] for a multi-select).",
        transform: FieldPair.parse
    )
    var map: [FieldPair] = []

    @Option(
        name: .customLong("set"),
        parsing: .singleValue,
        help:
            "FIELD=VALUE: send VALUE as FIELD for every row (repeatable), e.g. --set twilio_consent=true, --set country=US."
    )
    var constants: [String] = []

    @Option(
        name: .customLong("value"),
        parsing: .singleValue,
        help:
            "FIELD:TEXT=VALUE: send VALUE where FIELD's cell says TEXT (trimmed, any case; each value of a multi-value), e.g. --value \"Company size:11-50=2\" (repeatable)."
    )
    var translations: [String] = []

    @Option(name: .long, parsing: .singleValue, help: "HEADER: leave this column out of the mapping (repeatable).")
    var ignore: [String] = []

    @Option(name: .long, help: "auto, ',', ';', tab or '|'.", transform: DelimiterArgument.parse)
    var delimiter: DelimiterArgument = .auto

    @Option(
        name: .long,
        help:
            "auto (UTF-8, or UTF-16 by its BOM or zero bytes), utf-8, utf-16le, utf-16be, windows-1252 (Excel \"CSV (Comma delimited)\" on Windows; also latin1) or macroman (Excel \"CSV (Macintosh)\").",
        transform: EncodingArgument.parse
    )
    var encoding: EncodingArgument = .auto

    func validate() throws {
        if let webinar, webinar <= 0 { throw ValidationError("--webinar must be a positive integer") }
        if let schedule, schedule <= 0 { throw ValidationError("--schedule must be a positive integer") }
        if let date, !LeadText.isValidDate(date) {
            throw ValidationError("--date \(date): expected YYYY-MM-DD HH:MM")
        }
        if let timezone, LeadText.normalizeTimezone(timezone) == nil {
            throw ValidationError("--timezone \(timezone): expected GMT-5 or GMT+4:30")
        }
        if (date != nil || timezone != nil) && platform != .everwebinar {
            throw ValidationError("--date and --timezone are for --platform everwebinar")
        }
    }

    /// `--map` as FIELD → HEADER (a later pair for the same field wins).
    var overrides: [String: String] {
        Dictionary(map.map { ($0.field, $0.value) }, uniquingKeysWith: { $1 })
    }

    func run() throws {
        let options = ImportOptions(
            file: file,
            defaults: ImportDefaults(
                platform: platform,
                webinarID: webinar,
                schedule: schedule,
                date: date,
                timezone: timezone.flatMap(LeadText.normalizeTimezone)
            ),
            overrides: overrides,
            ignored: ignore,
            sets: constants,
            values: translations,
            reading: CSVReaderOptions(delimiter: delimiter.delimiter, encoding: encoding.encoding)
        )
        let summary = try Importer.run(options, databasePath: database.path, now: Clocks.system.wall())
        print(summary.rendered(databasePath: database.path))
    }
}

extension ImportSummary {
    func rendered(databasePath: String) -> String {
        if let at = alreadyImportedAt {
            return
                "\(file): already imported as import #\(importID) on \(WallClock.iso8601(at)) (\(rowsRead) rows); nothing added."
        }
        func byCount(_ table: [String: Int]) -> [(key: String, value: Int)] {
            table.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        }
        var lines = [
            "\(file): \(rowsRead) rows read (\(encoding), delimiter \(delimiter)) into \(databasePath), import #\(importID)",
            "  mapping",
        ]
        lines += mapping.map { "    \($0)" }
        lines.append("  queued     \(queued)")
        if updated > 0 {
            lines.append(
                "  updated    \(updated) (corrected rows: the lead's earlier job, queued, failed or cancelled, takes this row and is queued again)"
            )
        }
        lines.append("  rejected   \(rejectedTotal)")
        for (reason, count) in byCount(rejected) { lines.append("    \(count) × \(reason)") }
        var kinds: [String] = []
        if duplicatesInFile > 0 { kinds.append("\(duplicatesInFile) within the file") }
        if alreadyRegistered > 0 { kinds.append("\(alreadyRegistered) already registered") }
        if leftAlone > 0 { kinds.append("\(leftAlone) being registered or checked now: left alone") }
        lines.append("  duplicate  \(duplicates)" + (kinds.isEmpty ? "" : " (" + kinds.joined(separator: ", ") + ")"))
        if blank > 0 { lines.append("  blank      \(blank) (rows with no value: skipped)") }
        if !warnings.isEmpty {
            lines.append("  warnings   \(warnings.values.reduce(0, +)) (the lead is queued without that field)")
            for (warning, count) in byCount(warnings) { lines.append("    \(count) × \(warning)") }
        }
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
        discussion: "Example: bulkreg status --json"
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(
        name: .long,
        help:
            "One JSON object: total, states, targets, imports, recent_errors, running_pid, rate_per_second, eta_seconds (the last three null when no run is going on), shared_with (the other bulkreg processes on the running run's API key)."
    )
    var json = false

    func run() throws {
        let report = try StatusReport.load(databasePath: database.path, now: Clocks.system.wall())
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
            One row per input row, in input order: the original columns (filtered to imports: only theirs), \
            then status, job_id, platform, webinar_id, schedule, session_date, user_id, live_room_url, \
            replay_room_url, thank_you_url, error, attempts, registered_at, verified_at, note. A duplicate row carries \
            the status and URLs of the job it duplicates.

            Examples: bulkreg export results.csv --state done --excel; bulkreg export - --import 3 --webinar 5
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @Option(
        name: .long,
        parsing: .singleValue,
        help:
            "Only rows in this state (repeatable): queued, in_flight, uncertain, done, failed, rejected, duplicate, cancelled.",
        transform: JobState.parse
    )
    var state: [JobState] = []

    @Option(
        name: .customLong("import"),
        parsing: .singleValue,
        help: "Only rows of import N (repeatable), with that file's own columns."
    )
    var imports: [Int] = []

    @Option(name: .long, help: "Only rows for this webinar.")
    var webinar: Int?

    @Option(name: .long, help: "With --webinar: only rows for this schedule.")
    var schedule: Int?

    @Flag(
        name: .long,
        help: "For Excel: a UTF-8 byte order mark, and the delimiter the import was read with (; for a French Excel)."
    )
    var excel = false

    @Flag(
        name: .long,
        help:
            "Prefix ' to cells starting with = + - @ tab or CR, so spreadsheets don't run them as formulas (phone numbers and plain numbers are left alone)."
    )
    var excelSafe = false

    func validate() throws {
        if schedule != nil && webinar == nil { throw ValidationError("--schedule needs --webinar ID") }
    }

    func run() throws {
        let count = try Exporter.run(
            ExportOptions(
                output: output,
                states: state,
                imports: imports,
                webinarID: webinar,
                schedule: schedule,
                excel: excel,
                excelSafe: excelSafe
            ),
            databasePath: database.path
        )
        if output != "-" {
            Terminal.error("wrote \(count) rows to \(output)")
        }
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put permanently failed jobs back in the queue (then run again).",
        discussion: """
            A job whose last call may have reached the vendor is never sent again blind: it goes back as \
            `uncertain`, and the next run checks with the vendor's registrants first. `--job N --force` sends \
            one such job without that check (it may register the person twice).

            Example: bulkreg retry && bulkreg run
            """
    )

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
        let result = try await store.retry(job: job, force: force, now: Clocks.system.wall())
        if result.forced > 0 {
            Terminal.error(
                "job \(job ?? 0) will be sent again without checking whether its last call registered the person: "
                    + "if it did, the person is registered twice"
            )
        }
        var parts: [String] = []
        let queued = result.queued + result.forced
        parts.append("\(queued) job\(queued == 1 ? "" : "s") back in the queue")
        if result.toCheck > 0 {
            parts.append(
                "\(result.toCheck) to be checked with the vendor first (their last call may have registered them)"
            )
        }
        print(parts.joined(separator: "; ") + "; run `bulkreg run` to register them.")
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Take queued and failed jobs out of the queue (they stay in the database and the export).",
        discussion: """
            Cancelled jobs are never sent; done, uncertain and in-flight jobs are never touched. Safe while a \
            run goes on. Importing a cancelled lead again queues it again.

            Examples: bulkreg cancel --import 2; bulkreg cancel --job 106; bulkreg cancel --target 5:34
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("import"),
        help: "Every queued or failed job of import N (the import summary and status give N)."
    )
    var importID: Int?

    @Option(name: .long, help: "One job.")
    var job: Int?

    @Option(name: .long, help: "WEBINAR:SCHEDULE: every queued or failed job for that webinar and schedule.")
    var target: String?

    func validate() throws {
        _ = try selection()
    }

    func selection() throws -> JobStore.Selection {
        var chosen: [JobStore.Selection] = []
        if let importID { chosen.append(.importID(importID)) }
        if let job { chosen.append(.job(job)) }
        if let target {
            let parts = target.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let w = Int(parts[0]), let s = Int(parts[1]), w > 0, s > 0 else {
                throw ValidationError("--target \(target): expected WEBINAR:SCHEDULE, e.g. --target 5:34")
            }
            chosen.append(.target(webinarID: w, schedule: s))
        }
        guard chosen.count == 1 else {
            throw ValidationError("give exactly one of --import N, --job N or --target WEBINAR:SCHEDULE")
        }
        return chosen[0]
    }

    func run() async throws {
        let store = try JobStore(path: database.path)
        let result = try await store.cancel(try selection(), now: Clocks.system.wall())
        var line = "\(result.cancelled) job\(result.cancelled == 1 ? "" : "s") cancelled"
        let left = result.untouched.filter { [.done, .uncertain, .inFlight].contains($0.key) }
            .sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
        if !left.isEmpty { line += "; left alone: " + left.joined(separator: ", ") }
        print(line + ".")
    }
}
