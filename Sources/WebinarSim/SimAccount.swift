import Foundation

/// Which product a simulated webinar belongs to (the first path component of a call).
public enum SimPlatform: String, Sendable, Codable, CaseIterable, Hashable {
    /// `/webinarjam/...`
    case webinarjam
    /// `/everwebinar/...`
    case everwebinar
}

/// One schedule of a simulated webinar.
///
/// JSON (`--webinars` file): `{"schedule": 56, "comment": "Every day, 01:00 PM",
/// "dates": ["2024-01-05 13:00", "2024-01-06 13:00"], "display": "Every day, 01:00 PM"}`;
/// `dates` and `display` may be omitted. The `webinar` answer lists one entry per date
/// (the same schedule id repeated, as the vendor does for a recurring series) or one entry
/// with `date: ""` when there are no dates (Always on, Right now).
public struct SimSchedule: Sendable, Equatable, Codable {
    /// The API schedule id.
    public var schedule: Int
    /// `comment` of the `webinar` answer: `Instant replay`, `Just in time`, `Every day, 01:00 PM`.
    public var comment: String
    /// Session dates, `yyyy-MM-dd HH:mm` in the webinar's timezone.
    public var dates: [String]
    /// The string listed by `webinars` (defaults to `comment`).
    public var display: String?

    /// Creates a schedule.
    public init(schedule: Int, comment: String, dates: [String] = [], display: String? = nil) {
        self.schedule = schedule
        self.comment = comment
        self.dates = dates
        self.display = display
    }

    /// Instant replay (EverWebinar): registration is always to "now".
    public var isInstantReplay: Bool { comment.lowercased().contains("instant replay") }
    /// Just in time (EverWebinar).
    public var isJustInTime: Bool { comment.lowercased().contains("just in time") }

    enum CodingKeys: String, CodingKey {
        case schedule, comment, dates, display
    }

    /// Decodes with `dates` and `display` optional.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schedule = try container.decode(Int.self, forKey: .schedule)
        comment = try container.decodeIfPresent(String.self, forKey: .comment) ?? ""
        dates = try container.decodeIfPresent([String].self, forKey: .dates) ?? []
        display = try container.decodeIfPresent(String.self, forKey: .display)
    }
}

/// One simulated webinar.
///
/// JSON (`--webinars` file), every key but `platform`, `webinar_id` and `schedules` optional:
/// ```json
/// {"platform": "webinarjam", "webinar_id": 2, "webinar_hash": "defg5678",
///  "name": "Demo2", "title": "Demo2", "description": "…", "type": "Single presentation",
///  "timezone": "America/Los_Angeles",
///  "required_fields": ["last_name", "phone_country_code", "phone"],
///  "returned_fields": ["last_name", "phone_country_code", "phone"],
///  "password": false,
///  "schedules": [{"schedule": 21, "comment": "Friday, 5 Jan 2024, 01:00 PM",
///                 "dates": ["2024-01-05 13:00"]}]}
/// ```
public struct SimWebinar: Sendable, Equatable, Codable {
    /// The product.
    public var platform: SimPlatform
    /// `webinar_id`.
    public var webinarID: Int
    /// `webinar_hash` (defaults to a hash derived from the id).
    public var webinarHash: String
    /// Private name.
    public var name: String
    /// Public title.
    public var title: String
    /// Description.
    public var description: String
    /// `Series of presentations`, `Single presentation`, `Always on`, `Right now`, or nil
    /// (sent as `null` by WebinarJam, absent for EverWebinar).
    public var type: String?
    /// IANA timezone of the session dates.
    public var timezone: String
    /// Schedules, in the order `webinar` lists them.
    public var schedules: [SimSchedule]
    /// Register fields this webinar requires beyond the always-required ones:
    /// any of `last_name`, `phone_country_code`, `phone`, `country`, `state`, `twilio_consent`
    /// (a webinar whose phone field sends SMS reminders), `timezone_id`.
    public var requiredFields: [String]
    /// Custom registration questions, sent under their labels (how the vendor takes a custom
    /// question: its label as the field name).
    public var questions: [SimQuestion]
    /// Optional user fields echoed in the `register` answer (absent when not listed;
    /// `""` when listed but not given).
    public var returnedFields: [String]
    /// Whether the room has a per-attendee password (else `"password": null`).
    public var password: Bool

    /// What `required_fields` may name.
    public static let requirableFields: Set<String> = [
        "last_name", "phone_country_code", "phone", "country", "state", "twilio_consent", "timezone_id",
    ]

    /// The questions of the default account's webinar 1.
    public static let demoQuestions: [SimQuestion] = [
        SimQuestion(label: "What is your role?", type: .text),
        SimQuestion(
            label: "Company size",
            type: .dropdown,
            options: .numbered("1-10", "11-50", "51-200", "201+")
        ),
        SimQuestion(
            label: "Interests",
            type: .multiselect,
            options: .numbered("Email", "Social", "SEO", "Ads")
        ),
    ]

    /// Creates a webinar.
    public init(
        platform: SimPlatform,
        webinarID: Int,
        webinarHash: String? = nil,
        name: String? = nil,
        title: String? = nil,
        description: String = "",
        type: String? = nil,
        timezone: String = "America/Los_Angeles",
        schedules: [SimSchedule],
        requiredFields: [String] = [],
        returnedFields: [String] = ["last_name", "phone_country_code", "phone"],
        password: Bool = false,
        questions: [SimQuestion] = []
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.webinarHash = webinarHash ?? "wh\(webinarID)x\(String(webinarID * 7919, radix: 36))"
        self.name = name ?? "Demo\(webinarID)"
        self.title = title ?? self.name
        self.description = description
        self.type = type
        self.timezone = timezone
        self.schedules = schedules
        self.requiredFields = requiredFields
        self.returnedFields = returnedFields
        self.password = password
        self.questions = questions
    }

    enum CodingKeys: String, CodingKey {
        case platform
        case webinarID = "webinar_id"
        case webinarHash = "webinar_hash"
        case name, title, description, type, timezone, schedules
        case requiredFields = "required_fields"
        case returnedFields = "returned_fields"
        case password, questions
    }

    /// Decodes with defaults for every optional key.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            platform: try c.decode(SimPlatform.self, forKey: .platform),
            webinarID: try c.decode(Int.self, forKey: .webinarID),
            webinarHash: try c.decodeIfPresent(String.self, forKey: .webinarHash),
            name: try c.decodeIfPresent(String.self, forKey: .name),
            title: try c.decodeIfPresent(String.self, forKey: .title),
            description: try c.decodeIfPresent(String.self, forKey: .description) ?? "",
            type: try c.decodeIfPresent(String.self, forKey: .type),
            timezone: try c.decodeIfPresent(String.self, forKey: .timezone) ?? "America/Los_Angeles",
            schedules: try c.decode([SimSchedule].self, forKey: .schedules),
            requiredFields: try c.decodeIfPresent([String].self, forKey: .requiredFields) ?? [],
            returnedFields: try c.decodeIfPresent([String].self, forKey: .returnedFields)
                ?? ["last_name", "phone_country_code", "phone"],
            password: try c.decodeIfPresent(Bool.self, forKey: .password) ?? false,
            questions: try c.decodeIfPresent([SimQuestion].self, forKey: .questions) ?? []
        )
    }
}

/// A custom registration question: a text answer, a dropdown (sent as the option's id) or a
/// multi-select (sent as repeated `LABEL[]=ID`). JSON: `{"label": "Company size", "type":
/// "dropdown", "required": true, "options": [{"id": 1, "text": "1-10"}, …]}`.
public struct SimQuestion: Sendable, Equatable, Codable {
    /// How the answer is given.
    public enum Kind: String, Sendable, Codable { case text, dropdown, multiselect }
    /// One choice of a dropdown or multi-select.
    public struct Option: Sendable, Equatable, Codable {
        public var id: Int
        public var text: String
        public init(id: Int, text: String) {
            self.id = id
            self.text = text
        }
    }

    /// The label exactly as configured: the field's name in the form.
    public var label: String
    public var type: Kind
    public var required: Bool
    public var options: [Option]

    public init(label: String, type: Kind, required: Bool = true, options: [Option] = []) {
        self.label = label
        self.type = type
        self.required = required
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case label, type, required, options }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            label: try c.decode(String.self, forKey: .label),
            type: try c.decode(Kind.self, forKey: .type),
            required: try c.decodeIfPresent(Bool.self, forKey: .required) ?? true,
            options: try c.decodeIfPresent([Option].self, forKey: .options) ?? []
        )
    }

    /// The form field the answer comes in: the label, with `[]` for a multi-select.
    public var fieldName: String { type == .multiselect ? label + "[]" : label }
}

extension [SimQuestion.Option] {
    /// Choices numbered from 1 in the order given (the ids a form sends).
    public static func numbered(_ texts: String...) -> Self {
        texts.enumerated().map { SimQuestion.Option(id: $0.offset + 1, text: $0.element) }
    }
}

/// The webinars of the simulated account.
///
/// `--webinars FILE` format: either `{"webinars": [SimWebinar, …]}` or a bare array of
/// ``SimWebinar`` objects (see that type for the keys).
public struct SimAccount: Sendable, Equatable, Codable {
    /// All webinars, both products.
    public var webinars: [SimWebinar]

    /// Creates an account.
    public init(webinars: [SimWebinar]) {
        self.webinars = webinars
    }

    /// Why an account file was refused.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        /// What is wrong, naming the file.
        public let description: String
    }

    /// Parses an account from JSON (see the type's documentation) and checks it:
    /// unique `(platform, webinar_id)`, at least one schedule each, unique schedule ids per
    /// webinar, dates as `yyyy-MM-dd HH:mm`, known required fields and timezones.
    public static func decode(json data: Data, source: String = "account JSON") throws(LoadError) -> SimAccount {
        let account: SimAccount
        do {
            if let list = try? JSONDecoder().decode([SimWebinar].self, from: data) {
                account = SimAccount(webinars: list)
            } else {
                account = try JSONDecoder().decode(SimAccount.self, from: data)
            }
        } catch {
            throw LoadError(description: "\(source): not a valid webinars file: \(DecodingProblem.describe(error))")
        }
        try account.validate(source: source)
        return account
    }

    /// Reads and parses a `--webinars` file.
    public static func load(path: String) throws(LoadError) -> SimAccount {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LoadError(description: "\(path): cannot read the file: \(error.localizedDescription)")
        }
        return try decode(json: data, source: path)
    }

    func validate(source: String) throws(LoadError) {
        if webinars.isEmpty { throw LoadError(description: "\(source): no webinars") }
        var seen = Set<String>()
        let allowedRequired: Set<String> = SimWebinar.requirableFields
        for webinar in webinars {
            let key = "\(webinar.platform.rawValue)/\(webinar.webinarID)"
            if !seen.insert(key).inserted {
                throw LoadError(description: "\(source): webinar \(key) is listed twice")
            }
            if webinar.schedules.isEmpty {
                throw LoadError(description: "\(source): webinar \(key) has no schedules")
            }
            if Set(webinar.schedules.map(\.schedule)).count != webinar.schedules.count {
                throw LoadError(description: "\(source): webinar \(key) repeats a schedule id")
            }
            if TimeZone(identifier: webinar.timezone) == nil {
                throw LoadError(description: "\(source): webinar \(key) has unknown timezone '\(webinar.timezone)'")
            }
            for field in webinar.requiredFields where !allowedRequired.contains(field) {
                throw LoadError(
                    description:
                        "\(source): webinar \(key) requires unknown field '\(field)' (allowed: \(SimWebinar.requirableFields.sorted().joined(separator: ", ")))"
                )
            }
            if Set(webinar.questions.map(\.label)).count != webinar.questions.count {
                throw LoadError(description: "\(source): webinar \(key) repeats a question label")
            }
            for question in webinar.questions where question.type != .text && question.options.isEmpty {
                throw LoadError(description: "\(source): webinar \(key) question '\(question.label)' has no options")
            }
            for schedule in webinar.schedules {
                for date in schedule.dates where SimDates.parse(date, timezone: webinar.timezone) == nil {
                    throw LoadError(
                        description:
                            "\(source): webinar \(key) schedule \(schedule.schedule) has date '\(date)', expected yyyy-MM-dd HH:mm"
                    )
                }
            }
        }
    }

    /// The built-in account (ids follow the vendor's examples):
    ///
    /// | platform | id | type | schedules | requires |
    /// | --- | --- | --- | --- | --- |
    /// | webinarjam | 5 | `null` (a series) | 34 (2024-01-05 13:00), 46 (2024-01-06 14:00) | — |
    /// | webinarjam | 2 | Single presentation | 21 (2024-01-05 13:00) | last_name, phone_country_code, phone |
    /// | webinarjam | 3 | Always on | 31 (no date) | — |
    /// | webinarjam | 4 | Right now | 41 (no date) | — |
    /// | everwebinar | 6 | — | 54 Instant replay (2024-01-04 12:00), 55 Just in time (2024-01-05 12:00), 56 Every day 01:00 PM (2024-01-05 13:00) | — |
    /// | everwebinar | 7 | — | 71 Every day 07:00 PM (2024-01-05/06/07 19:00, New York), 72 Every Monday 02:00 PM (2024-01-08 14:00) | last_name; room password |
    /// | webinarjam | 1 | Single presentation | 11 Tuesday 11:00 AM (2024-01-09 11:00, Chicago) | twilio_consent, country; questions: "What is your role?" (text), "Company size" (dropdown 1-4), "Interests" (multi-select 1-4) |
    public static let `default` = SimAccount(webinars: [
        SimWebinar(
            platform: .webinarjam,
            webinarID: 5,
            webinarHash: "pqrs7890",
            name: "Demo5",
            title: "Demo5",
            description: "Multiple events",
            type: nil,
            timezone: "America/Los_Angeles",
            schedules: [
                SimSchedule(
                    schedule: 34,
                    comment: "Friday, 5 Jan 2024, 01:00 PM",
                    dates: ["2024-01-05 13:00"],
                    display: "Every day, 01:00 PM"
                ),
                SimSchedule(
                    schedule: 46,
                    comment: "Saturday, 6 Jan 2024, 02:00 PM",
                    dates: ["2024-01-06 14:00"],
                    display: "Every Saturday, 02:00 PM"
                ),
            ]
        ),
        SimWebinar(
            platform: .webinarjam,
            webinarID: 2,
            webinarHash: "defg5678",
            name: "Demo2",
            title: "Demo2",
            description: "Description of webinar",
            type: "Single presentation",
            timezone: "America/Los_Angeles",
            schedules: [
                SimSchedule(schedule: 21, comment: "Friday, 5 Jan 2024, 01:00 PM", dates: ["2024-01-05 13:00"])
            ],
            requiredFields: ["last_name", "phone_country_code", "phone"]
        ),
        SimWebinar(
            platform: .webinarjam,
            webinarID: 3,
            webinarHash: "hijk9012",
            name: "Demo3",
            title: "Demo3",
            description: "My always on webinar",
            type: "Always on",
            timezone: "America/New_York",
            schedules: [SimSchedule(schedule: 31, comment: "Always on")],
            returnedFields: []
        ),
        SimWebinar(
            platform: .webinarjam,
            webinarID: 4,
            webinarHash: "lmno3456",
            name: "Demo4",
            title: "Demo4",
            description: "Right now",
            type: "Right Now",
            timezone: "America/New_York",
            schedules: [SimSchedule(schedule: 41, comment: "Right now")],
            returnedFields: []
        ),
        SimWebinar(
            platform: .everwebinar,
            webinarID: 6,
            webinarHash: "uvw1234",
            name: "Demo6",
            title: "Demo6",
            description: "My automated webinar",
            timezone: "America/Los_Angeles",
            schedules: [
                SimSchedule(schedule: 54, comment: "Instant replay", dates: ["2024-01-04 12:00"]),
                SimSchedule(schedule: 55, comment: "Just in time", dates: ["2024-01-05 12:00"]),
                SimSchedule(schedule: 56, comment: "Every day, 01:00 PM", dates: ["2024-01-05 13:00"]),
            ]
        ),
        SimWebinar(
            platform: .everwebinar,
            webinarID: 7,
            webinarHash: "xyz5678",
            name: "Demo7",
            title: "Daily evergreen",
            description: "Recurring automated webinar",
            timezone: "America/New_York",
            schedules: [
                SimSchedule(
                    schedule: 71,
                    comment: "Every day, 07:00 PM",
                    dates: ["2024-01-05 19:00", "2024-01-06 19:00", "2024-01-07 19:00"]
                ),
                SimSchedule(schedule: 72, comment: "Every Monday, 02:00 PM", dates: ["2024-01-08 14:00"]),
            ],
            requiredFields: ["last_name"],
            returnedFields: ["last_name"],
            password: true
        ),
        SimWebinar(
            platform: .webinarjam,
            webinarID: 1,
            webinarHash: "abc0123",
            name: "Demo1",
            title: "SMS reminders",
            description: "Phone field with SMS reminders, a country and registration questions",
            type: "Single presentation",
            timezone: "America/Chicago",
            schedules: [
                SimSchedule(schedule: 11, comment: "Tuesday, 9 Jan 2024, 11:00 AM", dates: ["2024-01-09 11:00"])
            ],
            requiredFields: ["twilio_consent", "country"],
            questions: SimWebinar.demoQuestions
        ),
    ])
}

/// Session dates: `yyyy-MM-dd HH:mm` in an IANA zone, shown in a `GMT±H[:MM]` zone on request.
enum SimDates {
    /// Parses `2024-01-05 13:00` in `timezone`.
    static func parse(_ text: String, timezone: String) -> Date? {
        guard let zone = TimeZone(identifier: timezone) else { return nil }
        return formatter(zone).date(from: text)
    }

    /// Renders a date in `zone` as `2024-01-05 13:00`.
    static func render(_ date: Date, zone: TimeZone) -> String {
        formatter(zone).string(from: date)
    }

    /// Parses `GMT-5`, `GMT+4:30`, `GMT+04:30`, `UTC+2`, `GMT` into a fixed-offset zone.
    static func gmtZone(_ text: String) -> TimeZone? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces).uppercased())
        if rest.hasPrefix("GMT") || rest.hasPrefix("UTC") {
            rest = rest.dropFirst(3)
        } else {
            return nil
        }
        if rest.isEmpty { return TimeZone(secondsFromGMT: 0) }
        guard let sign = rest.first, sign == "+" || sign == "-" else { return nil }
        rest = rest.dropFirst()
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let hours = Int(parts[0]), (0...14).contains(hours) else { return nil }
        var minutes = 0
        if parts.count == 2 {
            guard let m = Int(parts[1]), (0...59).contains(m), parts[1].count == 2 else { return nil }
            minutes = m
        }
        let seconds = (hours * 3600 + minutes * 60) * (sign == "-" ? -1 : 1)
        return TimeZone(secondsFromGMT: seconds)
    }

    /// `Fri, 31 Oct 2025, 12:00 PM` (the registrants list's display format).
    static func display(_ date: Date, zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE, d MMM yyyy, hh:mm a"
        return formatter.string(from: date)
    }

    private static func formatter(_ zone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.isLenient = false
        return formatter
    }
}
