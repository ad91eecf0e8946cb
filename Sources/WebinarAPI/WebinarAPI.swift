// The contract between bulkreg and the vendor API (WebinarJam / EverWebinar).
//
// Everything the runner needs to know about a call is in its `Result`: either the decoded
// value or one `APIFailure` the runner can act on. Implementations: `HTTPWebinarAPI`
// (AsyncHTTPClient) and, in tests, fakes.

/// The two products behind the same API host and key.
public enum Platform: String, Sendable, CaseIterable, Codable, Hashable {
    case webinarjam
    case everwebinar
}

/// Why a call did not produce a value, judged by what the answer proves (see
/// `AnswerParser.classify` for the table); the runner's outcome policy maps each case, per
/// kind of call, to one action.
public enum APIFailure: Error, Sendable, Equatable {
    /// HTTP 429, or an answer whose message says too many requests / rate limit, in any
    /// envelope: wait at least 1 s and retry; not an attempt.
    case rateLimited
    /// The `api_key` errors (400 key missing, 401 key invalid): stop the whole run.
    case unauthorized(message: String)
    /// The request itself is at fault: an error answer whose `errors` object is keyed by a
    /// field, or whose message names the lead, the webinar, the schedule, the date or a field
    /// that was sent. Permanent for this job. `httpStatus` is 200 for `"status":"error"` on 200.
    case rejected(httpStatus: Int, message: String)
    /// An error answer that names nothing of the request and is not known trouble: the
    /// vendor's trouble until the same words come back three times in a row.
    case unexplained(httpStatus: Int, message: String)
    /// The vendor answered that it could not take the request now (408, 425, a
    /// `"status":"error"` saying "try again later", "temporarily unavailable", "database
    /// error", or no message): nothing was done; retry with backoff, no check needed.
    case busy(httpStatus: Int, message: String)
    /// No complete answer within the request timeout: the vendor may still be working on it.
    case timedOut(reason: String)
    /// 5xx, CDN pages, resets, unreadable bodies, transport errors: retry with backoff.
    /// `mayHaveReachedVendor` is false only when the request certainly did not leave
    /// (connection refused, DNS failure, TLS handshake failure before the request was written).
    case transient(reason: String, mayHaveReachedVendor: Bool)

    /// Whether the vendor may have acted on the request (so it must be checked before it is
    /// sent again).
    public var mayHaveActed: Bool {
        switch self {
        case .rateLimited, .unauthorized, .rejected, .unexplained, .busy: return false
        case .timedOut: return true
        case .transient(_, let reached): return reached
        }
    }

    /// The words to show: the vendor's message or the transport's reason.
    public var text: String {
        switch self {
        case .rateLimited: return "429 Too many requests"
        case .unauthorized(let m): return m
        case .rejected(let status, let m), .unexplained(let status, let m):
            return status == 200 ? m : "\(m) (HTTP \(status))"
        case .busy(_, let m): return m
        case .timedOut(let r), .transient(let r, _): return r
        }
    }
}

/// One `register` call's input. Optional fields are sent only when non-nil and non-empty.
public struct RegistrationRequest: Sendable, Equatable {
    public var platform: Platform
    public var webinarID: Int
    public var schedule: Int
    public var firstName: String
    public var lastName: String?
    public var email: String
    public var phoneCountryCode: String?
    public var phone: String?
    public var ipAddress: String?
    /// EverWebinar only: `GMT-5`, `GMT+4:30`.
    public var timezone: String?
    /// EverWebinar only: `2025-01-01 09:00`, must match a session date.
    public var date: String?
    /// Extra form fields the user asked to pass through (`country`, custom fields, …).
    public var extraFields: [String: String]
    /// Multi-valued fields (`Interests[]`): each value sent as a repeated pair, in order.
    public var multiFields: [String: [String]]

    public init(
        platform: Platform,
        webinarID: Int,
        schedule: Int,
        firstName: String,
        lastName: String? = nil,
        email: String,
        phoneCountryCode: String? = nil,
        phone: String? = nil,
        ipAddress: String? = nil,
        timezone: String? = nil,
        date: String? = nil,
        extraFields: [String: String] = [:],
        multiFields: [String: [String]] = [:]
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.schedule = schedule
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.phoneCountryCode = phoneCountryCode
        self.phone = phone
        self.ipAddress = ipAddress
        self.timezone = timezone
        self.date = date
        self.extraFields = extraFields
        self.multiFields = multiFields
    }
}

/// The `user` object of a successful `register` answer.
public struct RegisteredUser: Sendable, Equatable, Codable {
    public var userID: Int
    public var webinarID: Int?
    public var webinarHash: String?
    public var email: String?
    public var password: String?
    /// `schedule` is an int in WebinarJam answers and a string in EverWebinar ones.
    public var schedule: Int?
    public var date: String?
    public var timezone: String?
    public var liveRoomURL: String
    public var replayRoomURL: String?
    public var thankYouURL: String?
}

extension RegisteredUser {
    /// The user a `registrants` row proves registered: its `lead_id` (else its row id) as the
    /// user id, and no thank-you URL (that call returns none).
    public init(registrant found: Registrant, webinarID: Int) {
        self.init(
            userID: found.leadID ?? found.id ?? 0,
            webinarID: webinarID,
            email: found.email,
            schedule: found.scheduleID,
            date: found.date,
            liveRoomURL: found.liveRoomURL ?? "",
            replayRoomURL: found.replayRoomURL
        )
    }
}

/// One schedule of a `webinar` answer: `{date, schedule, comment}`.
public struct ScheduleInfo: Sendable, Equatable, Codable {
    public var schedule: Int
    public var date: String?
    public var comment: String?

    public init(schedule: Int, date: String? = nil, comment: String? = nil) {
        self.schedule = schedule
        self.date = date
        self.comment = comment
    }

    /// EverWebinar sessions that a one-click link cannot serve.
    public var isInstantReplay: Bool { comment?.lowercased().contains("instant replay") ?? false }
    public var isJustInTime: Bool { comment?.lowercased().contains("just in time") ?? false }
}

// The answer types below are made by the client only (AnswerParser); tests build them with
// the memberwise initialisers through `@testable import WebinarAPI`.

/// A webinar as an answer describes it: a `webinars` entry (``WebinarSummary``: schedules as
/// display strings) or a `webinar` answer's object (``WebinarDetail``: schedule objects).
public struct Webinar<Schedule: Sendable & Equatable & Codable>: Sendable, Equatable, Codable {
    public var webinarID: Int
    public var webinarHash: String?
    public var name: String?
    public var title: String?
    public var description: String?
    public var type: String?
    public var schedules: [Schedule] = []
    public var timezone: String?
    /// In `webinar` answers only.
    public var registrationURL: String?
}

/// One entry of a `webinars` answer (schedules are display strings there).
public typealias WebinarSummary = Webinar<String>

/// The `webinar` object of a `webinar` answer.
public typealias WebinarDetail = Webinar<ScheduleInfo>

/// One row of a `registrants` answer.
public struct Registrant: Sendable, Equatable, Codable {
    public var id: Int?
    public var leadID: Int?
    public var email: String
    public var firstName: String?
    public var lastName: String?
    public var scheduleID: Int?
    public var signupDate: String?
    /// The session date (`2025-01-01 09:00`), when the row carries one (EverWebinar rows are
    /// not known to; `date`, `session_date` or `event_date` are read).
    public var date: String?
    public var liveRoomURL: String?
    public var replayRoomURL: String?
}

/// One page of a `registrants` answer.
public struct RegistrantsPage: Sendable, Equatable, Codable {
    public var currentPage: Int
    public var lastPage: Int?
    /// From `next_page_url`: true when it names a page, false when it is present and null,
    /// nil when the answer has no such field.
    public var hasNextPage: Bool?
    public var registrants: [Registrant]
}

extension RegistrantsPage {
    /// Whether another page follows `page`: by `last_page`, else by `next_page_url`, else
    /// until an empty page or one that repeats the one before (a vendor that ignores `page`).
    public func continues(after page: Int, previous: [Registrant]?) -> Bool {
        if let lastPage { return page < lastPage }
        if let hasNextPage { return hasNextPage }
        return !registrants.isEmpty && registrants != previous
    }
}

/// Query of a `registrants` call.
public struct RegistrantsQuery: Sendable, Equatable {
    public var platform: Platform
    public var webinarID: Int
    public var scheduleID: Int?
    public var search: String?
    public var page: Int

    public init(
        platform: Platform,
        webinarID: Int,
        scheduleID: Int? = nil,
        search: String? = nil,
        page: Int = 1
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.scheduleID = scheduleID
        self.search = search
        self.page = page
    }
}

/// An API that can say when a request actually leaves the process: the limiter counts call
/// starts, and a request can wait in the HTTP client after its start (the process's first
/// connection, TLS, lazy initialisation).
public protocol SendObserving: Sendable {
    /// `observer` is called once, when the next request this value builds leaves (the
    /// connection takes its body, once its head is written). For a call made alone.
    func observeNextSend(_ observer: @escaping @Sendable () -> Void)
}

/// The vendor API as the runner and the CLI see it.
public protocol WebinarAPI: Sendable {
    func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure>
    func webinar(
        platform: Platform,
        webinarID: Int,
        timezone: String?
    ) async
        -> Result<WebinarDetail, APIFailure>
    func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure>
    func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure>
}
