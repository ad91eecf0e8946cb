import ArgumentParser
import BulkReg
import Foundation
import Pacing
import WebinarAPI

/// Runs `body` with a client built from the API options, and shuts it down after. Its calls
/// draw from the key's shared budget (`label` is how other processes see this one), and a
/// 429 is waited out.
func withClient<T>(
    _ options: APIOptions,
    label: String,
    _ body: (any WebinarAPI) async throws -> T
) async throws -> T {
    LoggingSetup.bootstrap(verbose: options.verbose)
    let key = try options.apiKey()
    let client = try options.makeClient(apiKey: key)
    let joined = KeyBudget.join(apiKey: key, rate: 20, margin: .milliseconds(10), label: label)
    if let warning = joined.warning { StandardError.write(warning + "\n") }
    let paced = PacedAPI(api: client, budget: joined.budget)
    do {
        let value = try await body(paced)
        try? await client.shutdown()
        return value
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Turns an API failure into the error a user reads.
func apiError(_ failure: APIFailure, doing what: String) -> BulkRegError {
    switch failure {
    case .unauthorized(let message): return BulkRegError(.auth, "\(what): the API key was refused: \(message)")
    case .rejected(let status, let message): return BulkRegError(.usage, "\(what): \(message) (HTTP \(status))")
    case .rateLimited:
        return BulkRegError(
            .unexpected,
            "\(what): 429 Too many requests (another tool is using the key?); try again in a second"
        )
    case .unexplained, .busy, .timedOut, .transient:
        return BulkRegError(.unexpected, "\(what): \(failure.text) (the vendor's trouble: try again in a moment)")
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct WebinarsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webinars",
        abstract: "List the account's webinars (ids, names, schedules).",
        discussion: "Example: bulkreg webinars --platform everwebinar"
    )

    @OptionGroup var api: APIOptions

    @Option(name: .long, help: "webinarjam or everwebinar (default: both).")
    var platform: Platform?

    @Flag(name: .long, help: "JSON instead of a table.")
    var json = false

    func run() async throws {
        let platforms = platform.map { [$0] } ?? Platform.allCases
        var all: [(Platform, WebinarSummary)] = []
        try await withClient(api, label: "webinars") { client in
            for p in platforms {
                switch await client.webinars(platform: p) {
                case .success(let list): all += list.map { (p, $0) }
                case .failure(let failure): throw apiError(failure, doing: "\(p.rawValue) webinars")
                }
            }
        }
        if json {
            struct Row: Encodable {
                var platform: String
                var webinar: WebinarSummary
            }
            try printJSON(all.map { Row(platform: $0.0.rawValue, webinar: $0.1) })
            return
        }
        if all.isEmpty {
            print("no webinars")
            return
        }
        var rows = [["platform", "id", "name", "type", "timezone", "schedules"]]
        for (p, w) in all {
            rows.append([
                p.rawValue, String(w.webinarID), w.name ?? w.title ?? "", w.type ?? "", w.timezone ?? "",
                w.schedules.joined(separator: "; "),
            ])
        }
        print(Table.render(rows))
        print("\nSchedule ids: bulkreg webinar ID [--platform everwebinar]")
    }
}

struct WebinarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webinar",
        abstract: "Show one webinar and its schedules (the ids to import with).",
        discussion: "Example: bulkreg webinar 5"
    )

    @OptionGroup var api: APIOptions

    @Argument(help: "The webinar id.")
    var id: Int

    @Option(name: .long, help: "webinarjam or everwebinar.")
    var platform: Platform = .webinarjam

    @Option(name: .long, help: "EverWebinar: show session dates in this timezone (GMT-5).")
    var timezone: String?

    @Flag(name: .long, help: "JSON instead of a table.")
    var json = false

    func run() async throws {
        let platform = self.platform
        let id = self.id
        let detail = try await withClient(api, label: "webinar") { client in
            switch await client.webinar(platform: platform, webinarID: id, timezone: timezone) {
            case .success(let w): return w
            case .failure(let failure):
                // Not found here: is it the other product's?
                let other: Platform = platform == .webinarjam ? .everwebinar : .webinarjam
                if case .rejected = failure,
                    case .success = await client.webinar(platform: other, webinarID: id, timezone: nil)
                {
                    throw BulkRegError(
                        .usage,
                        "webinar \(id) is not a \(platform.rawValue) webinar, but \(other.rawValue) has one with that id: "
                            + "add --platform \(other.rawValue)"
                    )
                }
                throw apiError(failure, doing: "\(platform.rawValue) webinar \(id)")
            }
        }
        if json {
            try printJSON(detail)
            return
        }
        print(
            "\(platform.rawValue) webinar \(detail.webinarID): \(detail.name ?? detail.title ?? "")"
                + (detail.type.map { " (\($0))" } ?? "") + (detail.timezone.map { ", \($0)" } ?? "")
        )
        var rows = [["session", "schedule", "date", "comment"]]
        for (i, s) in detail.schedules.enumerated() {
            rows.append([String(i + 1), String(s.schedule), s.date ?? "", s.comment ?? ""])
        }
        print(Table.render(rows))
        // Every flag the import needs, per session (EverWebinar: its date and the timezone the
        // date is written in).
        let lines = detail.schedules.prefix(6).map { s -> String in
            var line =
                "bulkreg import leads.csv --platform \(platform.rawValue) --webinar \(detail.webinarID) --schedule \(s.schedule)"
            if platform == .everwebinar, let date = s.date {
                line += " --date \"\(date)\""
                let zone =
                    timezone.flatMap(LeadText.normalizeTimezone)
                    ?? detail.timezone.flatMap { LeadText.gmtOffset(ofZone: $0, at: date, now: Clocks.system.wall()) }
                if let zone { line += " --timezone \(zone)" }
            }
            return line
        }
        if !lines.isEmpty {
            print("\nImport with:")
            for line in lines { print("  " + line) }
            if detail.schedules.count > lines.count {
                print("  … (\(detail.schedules.count - lines.count) more sessions above)")
            }
        }
    }
}

struct LinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Build a webinar's one-click registration link with an autoresponder's merge tags.",
        discussion: """
            The link's schedule_id is the session number of the webinar's schedule wizard (default 1), \
            taken to be the n-th schedule of `bulkreg webinar ID`; the command shows which. EverWebinar \
            instant-replay and just-in-time sessions cannot be served by one-click links.

            Example: bulkreg link --webinar 5 --autoresponder mailchimp --session 2
            Autoresponders: \(OneClickLink.Autoresponder.allCases.map(\.rawValue).joined(separator: ", "))
            """
    )

    @OptionGroup var api: APIOptions

    @Option(name: .long, help: "The webinar id.")
    var webinar: Int

    @Option(
        name: .long,
        help:
            "Whose merge tags: activecampaign, kartra, aweber, clickfunnels, getresponse, icontact, keap, mailchimp, ontraport, kit.",
        transform: OneClickLink.Autoresponder.parse
    )
    var autoresponder: OneClickLink.Autoresponder

    @Option(name: .long, help: "Session number (1-based) in the webinar's schedule wizard.")
    var session: Int = 1

    @Option(name: .long, help: "webinarjam or everwebinar.")
    var platform: Platform = .webinarjam

    @Option(
        name: .long,
        help:
            "Comma-separated fields, named as in `import --map`: first_name, last_name, email, phone_country_code, phone, timezone (default: all the autoresponder has tags for)."
    )
    var fields: String?

    @Option(name: .long, help: "A fixed timezone value for EverWebinar (GMT-5).")
    var timezone: String?

    func validate() throws {
        if session < 1 { throw ValidationError("--session must be 1 or more") }
        _ = try chosenFields()
    }

    func chosenFields() throws -> [OneClickLink.Field]? {
        guard let fields else { return nil }
        return try fields.split(separator: ",").map { name in
            guard let f = OneClickLink.Field(name: String(name).trimmingWhitespace()) else {
                throw ValidationError("--fields: unknown field \(name)")
            }
            return f
        }
    }

    func run() async throws {
        let detail = try await withClient(api, label: "link") { client in
            switch await client.webinar(platform: platform, webinarID: webinar, timezone: nil) {
            case .success(let w): return w
            case .failure(let failure): throw apiError(failure, doing: "webinar \(webinar)")
            }
        }
        do {
            let link = try OneClickLink(
                webinar: detail,
                platform: platform,
                autoresponder: autoresponder,
                session: session,
                fields: try chosenFields(),
                timezone: timezone
            )
            print(link.url)
            StandardError.write(
                "session \(session) is taken to be API schedule \(link.schedule.schedule)"
                    + (link.schedule.date.map { " (\($0))" } ?? "") + (link.schedule.comment.map { ", \($0)" } ?? "")
                    + ": check it against the webinar's schedule wizard.\n"
            )
        } catch {
            throw BulkRegError(.usage, "webinar \(webinar): \(error)")
        }
    }
}

/// A plain text table.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], min(cell.count, 60)) }
        }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
