/// Counters of a simulator run, as served by `GET /__sim/stats` (snake_case keys) and
/// returned by ``RunningSimulator/stats()``.
///
/// "Calls" are vendor API calls: every `POST /{platform}/{method}` (admin endpoints and
/// non-POST requests are not calls). A call's start is the moment its request was received.
public struct SimulatorStats: Sendable, Equatable, Codable {
    /// All API calls, whatever their outcome.
    public var totalCalls: Int
    /// Calls per method name (`webinars`, `webinar`, `register`, `registrants`, `unknown`).
    public var callsByMethod: [String: Int]
    /// Calls per platform (`webinarjam`, `everwebinar`, `unknown`).
    public var callsByPlatform: [String: Int]
    /// Calls per `platform/method`.
    public var callsByPlatformMethod: [String: Int]
    /// 429 answers returned.
    public var rateLimited: Int
    /// Key errors returned (400 missing key, 401 invalid key).
    public var unauthorized: Int
    /// Other 4xx answers returned (validation, unknown webinar or schedule, duplicates, 404).
    public var rejected: Int
    /// Non-POST requests to API paths (answered 405); not counted as calls.
    public var methodNotAllowed: Int
    /// Faults injected, per kind: each ``SimFault`` raw value, plus `refused` and
    /// `refusedField` (``SimFaults/refusals``, ``SimFaults/fieldRefusals``), `webinarNotFound`
    /// (``SimFaults/webinarNotFoundFirst``) and `registrantsDown` (``SimFaults/registrantsDownS``).
    public var faultsInjected: [String: Int]
    /// ``SimFault/proxyPage`` faults per page status (`"504"`: 3).
    public var proxyPagesByStatus: [String: Int]
    /// The most call starts (accepted and rate-limited alike) seen in any sliding window of
    /// ``rateWindowMs``.
    public var maxCallsInWindow: Int
    /// The most starts of calls the limiter accepted (not answered 429) in any sliding window.
    public var maxAcceptedCallsInWindow: Int
    /// `register` calls that registered someone (or returned the existing user), including
    /// those whose answer a fault then destroyed (reset after storing, garbage, oversized, slow,
    /// a 504 or 524 proxy page).
    public var successfulRegisterCalls: Int
    /// Successful `register` calls per person (lower-cased email).
    public var registerCallsByPerson: [String: Int]
    /// Persons with more than one successful `register` call into the same platform,
    /// webinar, schedule and, for EverWebinar, session date (what a careful runner avoids).
    public var duplicates: Int
    /// Stored registrations (one per new user).
    public var totalRegistrations: Int
    /// The configured limit and window, for reference.
    public var rateLimit: Int
    /// Width of the rate window in milliseconds.
    public var rateWindowMs: Int
    /// Seconds from the first register call's arrival to the last one's: the sustained rate
    /// is `(register calls - 1) / registerSpanSeconds`, free of the run's fixed start and end.
    public var registerSpanSeconds: Double = 0
    /// Calls of every method (register, webinars, checks) from the first register call's
    /// arrival to the last one's, both included: several processes' combined rate is
    /// `(callsInRegisterSpan - 1) / registerSpanSeconds`.
    public var callsInRegisterSpan: Int = 0

    /// Empty counters.
    public init(rateLimit: Int = 20, rateWindowMs: Int = 1000) {
        totalCalls = 0
        callsByMethod = [:]
        callsByPlatform = [:]
        callsByPlatformMethod = [:]
        rateLimited = 0
        unauthorized = 0
        rejected = 0
        methodNotAllowed = 0
        faultsInjected = [:]
        proxyPagesByStatus = [:]
        maxCallsInWindow = 0
        maxAcceptedCallsInWindow = 0
        successfulRegisterCalls = 0
        registerCallsByPerson = [:]
        duplicates = 0
        totalRegistrations = 0
        self.rateLimit = rateLimit
        self.rateWindowMs = rateWindowMs
    }

    enum CodingKeys: String, CodingKey {
        case totalCalls = "total_calls"
        case callsByMethod = "calls_by_method"
        case callsByPlatform = "calls_by_platform"
        case callsByPlatformMethod = "calls_by_platform_method"
        case rateLimited = "rate_limited"
        case unauthorized
        case rejected
        case methodNotAllowed = "method_not_allowed"
        case faultsInjected = "faults_injected"
        case proxyPagesByStatus = "proxy_pages_by_status"
        case maxCallsInWindow = "max_calls_in_window"
        case maxAcceptedCallsInWindow = "max_accepted_calls_in_window"
        case successfulRegisterCalls = "successful_register_calls"
        case registerCallsByPerson = "register_calls_by_person"
        case duplicates
        case totalRegistrations = "total_registrations"
        case rateLimit = "rate_limit"
        case rateWindowMs = "rate_window_ms"
        case registerSpanSeconds = "register_span_s"
        case callsInRegisterSpan = "calls_in_register_span"
    }
}

/// One stored registration, as dumped by `GET /__sim/registrations` (snake_case keys) and
/// ``RunningSimulator/registrations()``.
public struct SimRegistration: Sendable, Equatable, Codable {
    /// Product.
    public var platform: SimPlatform
    /// Webinar id.
    public var webinarID: Int
    /// Schedule id.
    public var schedule: Int
    /// Session date as answered (`""` for Always on / Right now).
    public var date: String
    /// Timezone as answered.
    public var timezone: String
    /// Email as sent.
    public var email: String
    /// First name.
    public var firstName: String
    /// Last name, when sent.
    public var lastName: String?
    /// Phone country code, when sent.
    public var phoneCountryCode: String?
    /// Phone, when sent.
    public var phone: String?
    /// Extra fields passed through (`country`, custom fields, …).
    public var extraFields: [String: String]
    /// Multi-valued fields (`Interests[]`), every value in the order sent.
    public var multiFields: [String: [String]]
    /// `user_id` of the answer (`lead_id` in `registrants`).
    public var userID: Int
    /// Row `id` in `registrants`.
    public var registrantID: Int
    /// Personal live room URL.
    public var liveRoomURL: String
    /// Personal replay room URL.
    public var replayRoomURL: String
    /// Personal thank-you URL.
    public var thankYouURL: String
    /// Room password, when the webinar has one.
    public var password: String?
    /// `signup_date` as `registrants` shows it.
    public var signupDate: String

    enum CodingKeys: String, CodingKey {
        case platform
        case webinarID = "webinar_id"
        case schedule, date, timezone, email
        case firstName = "first_name"
        case lastName = "last_name"
        case phoneCountryCode = "phone_country_code"
        case phone
        case extraFields = "extra_fields"
        case multiFields = "multi_fields"
        case userID = "user_id"
        case registrantID = "registrant_id"
        case liveRoomURL = "live_room_url"
        case replayRoomURL = "replay_room_url"
        case thankYouURL = "thank_you_url"
        case password
        case signupDate = "signup_date"
    }
}
