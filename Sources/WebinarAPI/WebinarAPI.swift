/// The contract between bulkreg and the vendor API (WebinarJam / EverWebinar).
///
/// Everything the runner needs to know about a call is in its `Result`: either the decoded
/// value or one ``APIFailure`` the runner can act on. Implementations: ``HTTPWebinarAPI``
/// (AsyncHTTPClient) and, in tests, fakes.

/// The two products behind the same API host and key.
public enum Platform: String, Sendable, CaseIterable, Codable, Hashable {
    case webinarjam
    case everwebinar
}

/// Why a call did not produce a value; each case maps to one runner action.
public enum APIFailure: Error, Sendable, Equatable {
    /// HTTP 429 "Too many requests": wait at least 1 s and retry; not an attempt.
    case rateLimited
    /// The `api_key` errors (400 key missing, 401 key invalid): stop the whole run.
    case unauthorized(message: String)
    /// A 4xx or `"status":"error"` about the request itself (the lead, the webinar, the
    /// schedule): permanent for this job. `httpStatus` is 200 for `"status":"error"` on 200.
    case rejected(httpStatus: Int, message: String)
    /// 5xx, timeout, reset, refused, unreadable body: retry with backoff.
    /// `mayHaveReachedVendor` is false only when the request certainly did not reach the
    /// vendor (connection refused, DNS failure, TLS handshake failure, …).
    case transient(reason: String, mayHaveReachedVendor: Bool)
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

    public init(
        platform: Platform, webinarID: Int, schedule: Int, firstName: String,
        lastName: String? = nil, email: String, phoneCountryCode: String? = nil,
        phone: String? = nil, ipAddress: String? = nil, timezone: String? = nil,
        date: String? = nil, extraFields: [String: String] = [:]
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

    public init(
        userID: Int, webinarID: Int? = nil, webinarHash: String? = nil, email: String? = nil,
        password: String? = nil, schedule: Int? = nil, date: String? = nil,
        timezone: String? = nil, liveRoomURL: String, replayRoomURL: String? = nil,
        thankYouURL: String? = nil
    ) {
        self.userID = userID
        self.webinarID = webinarID
        self.webinarHash = webinarHash
        self.email = email
        self.password = password
        self.schedule = schedule
        self.date = date
        self.timezone = timezone
        self.liveRoomURL = liveRoomURL
        self.replayRoomURL = replayRoomURL
        self.thankYouURL = thankYouURL
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

/// One entry of a `webinars` answer (schedules are display strings there).
public struct WebinarSummary: Sendable, Equatable, Codable {
    public var webinarID: Int
    public var webinarHash: String?
    public var name: String?
    public var title: String?
    public var description: String?
    public var type: String?
    public var schedules: [String]
    public var timezone: String?

    public init(
        webinarID: Int, webinarHash: String? = nil, name: String? = nil, title: String? = nil,
        description: String? = nil, type: String? = nil, schedules: [String] = [],
        timezone: String? = nil
    ) {
        self.webinarID = webinarID
        self.webinarHash = webinarHash
        self.name = name
        self.title = title
        self.description = description
        self.type = type
        self.schedules = schedules
        self.timezone = timezone
    }
}

/// The `webinar` object of a `webinar` answer.
public struct WebinarDetail: Sendable, Equatable, Codable {
    public var webinarID: Int
    public var webinarHash: String?
    public var name: String?
    public var title: String?
    public var description: String?
    public var type: String?
    public var schedules: [ScheduleInfo]
    public var timezone: String?
    public var registrationURL: String?

    public init(
        webinarID: Int, webinarHash: String? = nil, name: String? = nil, title: String? = nil,
        description: String? = nil, type: String? = nil, schedules: [ScheduleInfo] = [],
        timezone: String? = nil, registrationURL: String? = nil
    ) {
        self.webinarID = webinarID
        self.webinarHash = webinarHash
        self.name = name
        self.title = title
        self.description = description
        self.type = type
        self.schedules = schedules
        self.timezone = timezone
        self.registrationURL = registrationURL
    }
}

/// One row of a `registrants` answer.
public struct Registrant: Sendable, Equatable, Codable {
    public var id: Int?
    public var leadID: Int?
    public var email: String
    public var firstName: String?
    public var lastName: String?
    public var scheduleID: Int?
    public var signupDate: String?
    public var liveRoomURL: String?
    public var replayRoomURL: String?

    public init(
        id: Int? = nil, leadID: Int? = nil, email: String, firstName: String? = nil,
        lastName: String? = nil, scheduleID: Int? = nil, signupDate: String? = nil,
        liveRoomURL: String? = nil, replayRoomURL: String? = nil
    ) {
        self.id = id
        self.leadID = leadID
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.scheduleID = scheduleID
        self.signupDate = signupDate
        self.liveRoomURL = liveRoomURL
        self.replayRoomURL = replayRoomURL
    }
}

/// One page of a `registrants` answer.
public struct RegistrantsPage: Sendable, Equatable, Codable {
    public var currentPage: Int
    public var lastPage: Int?
    public var registrants: [Registrant]

    public init(currentPage: Int, lastPage: Int? = nil, registrants: [Registrant]) {
        self.currentPage = currentPage
        self.lastPage = lastPage
        self.registrants = registrants
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
        platform: Platform, webinarID: Int, scheduleID: Int? = nil, search: String? = nil,
        page: Int = 1
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.scheduleID = scheduleID
        self.search = search
        self.page = page
    }
}

/// The vendor API as the runner and the CLI see it.
public protocol WebinarAPI: Sendable {
    func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure>
    func webinar(platform: Platform, webinarID: Int, timezone: String?) async
        -> Result<WebinarDetail, APIFailure>
    func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure>
    func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure>
}
