import Foundation
import Pacing

/// The four vendor API methods (the last path component of a call).
public enum SimMethod: String, Sendable, Codable, CaseIterable, Hashable {
    /// `webinars`: list of the account's webinars.
    case webinars
    /// `webinar`: one webinar's details.
    case webinar
    /// `register`: register one person.
    case register
    /// `registrants`: paginated registrants of a webinar.
    case registrants
}

/// A fault the simulator can inject into one API call. Faults are drawn (or taken from the
/// queue of ``RunningSimulator/injectFaults(_:)``) only for the methods of ``SimFaults/methods``.
public enum SimFault: String, Sendable, Codable, CaseIterable, Hashable {
    /// HTTP 500/502/503 with an HTML or JSON body; nothing stored.
    case serverError
    /// The connection is closed without an answer before anything is stored.
    case resetBeforeStore
    /// The registration is stored, then the connection is closed without an answer.
    case resetAfterStore
    /// HTTP 200 with a truncated JSON body; the registration is stored.
    case garbageBody
    /// HTTP 200 with `{"status":"error","message":"The registration could not be completed at
    /// this time"}` (the same text whatever the method); nothing stored. The message names no
    /// field and says nothing wrong about the lead: like ``vendorTrouble``, only its repetition
    /// would make it evidence against the request.
    case statusError
    /// The answer takes `slowMs` more; the registration is stored when the delay ends,
    /// whether or not the client still waits (the work runs apart from the connection, so a
    /// client that gives up and closes it changes nothing).
    case slow
    /// HTTP 200, a valid answer padded to `oversizedBodyBytes`; the registration is stored.
    case oversizedBody
    /// HTTP 200 with `{"status":"error","message":M}`, M drawn from ``SimFaults/troubleMessages``
    /// (one draw in four is `{"status":"error"}` with no message at all): the application's own
    /// trouble in the success envelope. Nothing stored.
    case vendorTrouble
    /// An HTML error page of a proxy or CDN (`text/html`, nginx or Cloudflare style), its
    /// status drawn from ``SimFaults/proxyPageStatuses``. For 504 and 524 (the gateway gave up
    /// while the origin went on working) the call is carried out first, so a `register` call
    /// stores the registration and still answers the page; for the others nothing is stored.
    case proxyPage
}

/// How the simulator answers a call over the rate limit. The vendor documents only "HTTP 429
/// Too many requests"; what the body looks like, or whether a proxy answers instead, is unknown.
public enum SimRateLimitAnswer: String, Sendable, Codable, CaseIterable, Hashable {
    /// HTTP 429, `text/plain` body `Too many requests` (the default).
    case plain
    /// HTTP 429, `{"status":"error","message":"Too many requests"}`.
    case json
    /// HTTP **200**, `{"status":"error","message":"Too many requests"}`: the limit in the
    /// success envelope, recognisable only by its message.
    case json200 = "json-200"
    /// HTTP 429, an nginx-style HTML page with no JSON.
    case html
}

/// Fault injection settings. Rates are probabilities in `0...1` per eligible call; their sum
/// must not exceed 1. Draws come from the simulator's seeded generator, so a run is
/// reproducible for a given seed and call order.
///
/// The settings can be replaced while the simulator runs (``RunningSimulator/setFaults(_:)``,
/// `POST /__sim/config`); the JSON form has one key per property, camelCase as here, every key
/// optional (an absent key takes its default, so `{}` means "no faults"), unknown keys refused.
/// `latencyMs` is `[low, high]`, a number, or `"50-200"`; `methods` an array of method names.
public struct SimFaults: Sendable, Equatable, Codable {
    /// Extra latency of every API call, uniformly drawn in this range (milliseconds).
    public var latencyMs: ClosedRange<Int>
    /// Rate of ``SimFault/serverError``.
    public var serverErrorRate: Double
    /// Rate of ``SimFault/resetBeforeStore``.
    public var resetBeforeStoreRate: Double
    /// Rate of ``SimFault/resetAfterStore``.
    public var resetAfterStoreRate: Double
    /// Rate of ``SimFault/garbageBody``.
    public var garbageBodyRate: Double
    /// Rate of ``SimFault/statusError``.
    public var statusErrorRate: Double
    /// Rate of ``SimFault/slow``.
    public var slowRate: Double
    /// Delay of a slow answer (milliseconds).
    public var slowMs: Int
    /// Rate of ``SimFault/oversizedBody``.
    public var oversizedBodyRate: Double
    /// Size of an oversized body (bytes).
    public var oversizedBodyBytes: Int
    /// The methods drawn and queued faults apply to (default: `register` only). Latency
    /// applies to all; refusals, ``webinarNotFoundFirst`` and ``registrantsDownS`` apply to
    /// their own method whatever this says.
    public var methods: Set<SimMethod>
    /// Rate of ``SimFault/vendorTrouble``.
    public var vendorTroubleRate: Double
    /// Rate of ``SimFault/proxyPage``.
    public var proxyPageRate: Double
    /// The statuses a ``SimFault/proxyPage`` is drawn from (uniformly; default all of
    /// ``allProxyPageStatuses``). Narrow it to `[504]` to play only "stored, then an error page".
    public var proxyPageStatuses: [Int]
    /// Leads refused by message: every `register` call whose email matches a key
    /// (case-insensitive) answers HTTP 200 `{"status":"error","message":VALUE}`, naming no
    /// field; nothing stored. Checked after the always-required fields, before anything else.
    public var refusals: [String: String]
    /// Leads refused by field: every `register` call whose email matches a key
    /// (case-insensitive) answers HTTP 422 `{"status":"error","errors":{F:["The F is invalid."]}}`
    /// with F the value; nothing stored. Checked like ``refusals``.
    public var fieldRefusals: [String: String]
    /// The first this many `webinar` calls per platform and webinar id that reach the
    /// application answer the not-found answer (400 `{"status":"error","message":"Webinar not
    /// found"}`), later ones correctly: a webinar the vendor's replicas do not know yet. The
    /// count restarts on reset and whenever the settings are replaced.
    public var webinarNotFoundFirst: Int
    /// For this many seconds after the simulator starts (or is reset, or these settings are
    /// replaced), measured with ``SimulatorConfig/now``, every `registrants` call that passes
    /// the key and rate checks answers a 503 HTML page; nothing else is affected.
    public var registrantsDownS: Int

    /// The statuses of proxy and CDN pages: nginx's 408, 502, 503, 504, the 425 of an early-data
    /// refusal, Cloudflare's 520 (unknown origin error), 522 (origin connect timeout) and 524
    /// (origin answer timeout).
    public static let allProxyPageStatuses = [408, 425, 502, 503, 504, 520, 522, 524]
    /// Proxy page statuses after which the origin has carried out the call (the gateway timed
    /// out waiting for an origin that went on working).
    public static let storingProxyPageStatuses: Set<Int> = [504, 524]
    /// Messages of ``SimFault/vendorTrouble`` (a fourth, equally likely draw sends no message).
    public static let troubleMessages = [
        "Service temporarily unavailable, please try again later", "Database error",
        "Internal error, try again later",
    ]

    /// No faults, no latency.
    public init(
        latencyMs: ClosedRange<Int> = 0...0,
        serverErrorRate: Double = 0,
        resetBeforeStoreRate: Double = 0,
        resetAfterStoreRate: Double = 0,
        garbageBodyRate: Double = 0,
        statusErrorRate: Double = 0,
        slowRate: Double = 0,
        slowMs: Int = 5_000,
        oversizedBodyRate: Double = 0,
        oversizedBodyBytes: Int = 8 * 1024 * 1024,
        methods: Set<SimMethod> = [.register],
        vendorTroubleRate: Double = 0,
        proxyPageRate: Double = 0,
        proxyPageStatuses: [Int] = SimFaults.allProxyPageStatuses,
        refusals: [String: String] = [:],
        fieldRefusals: [String: String] = [:],
        webinarNotFoundFirst: Int = 0,
        registrantsDownS: Int = 0
    ) {
        self.latencyMs = latencyMs
        self.serverErrorRate = serverErrorRate
        self.resetBeforeStoreRate = resetBeforeStoreRate
        self.resetAfterStoreRate = resetAfterStoreRate
        self.garbageBodyRate = garbageBodyRate
        self.statusErrorRate = statusErrorRate
        self.slowRate = slowRate
        self.slowMs = slowMs
        self.oversizedBodyRate = oversizedBodyRate
        self.oversizedBodyBytes = oversizedBodyBytes
        self.methods = methods
        self.vendorTroubleRate = vendorTroubleRate
        self.proxyPageRate = proxyPageRate
        self.proxyPageStatuses = proxyPageStatuses
        self.refusals = refusals
        self.fieldRefusals = fieldRefusals
        self.webinarNotFoundFirst = webinarNotFoundFirst
        self.registrantsDownS = registrantsDownS
    }

    /// Parses a latency option: `150` (fixed) or `50-200` / `50...200` (milliseconds).
    public static func parseLatency(_ text: String) -> ClosedRange<Int>? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let single = Int(trimmed), single >= 0 { return single...single }
        for separator in ["...", "..", "-", ":"] {
            let parts = trimmed.components(separatedBy: separator)
            if parts.count == 2, let low = Int(parts[0].trimmingCharacters(in: .whitespaces)),
                let high = Int(parts[1].trimmingCharacters(in: .whitespaces)), low >= 0, high >= low
            {
                return low...high
            }
        }
        return nil
    }

    /// Parses a methods option: `all`, or method names separated by commas
    /// (`register,registrants`). Nil for an unknown name or an empty list.
    public static func parseMethods(_ text: String) -> Set<SimMethod>? {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if names == ["all"] { return Set(SimMethod.allCases) }
        var methods: Set<SimMethod> = []
        for name in names {
            guard let method = SimMethod(rawValue: name) else { return nil }
            methods.insert(method)
        }
        return methods.isEmpty ? nil : methods
    }

    /// Parses `EMAIL=VALUE` (a refusal option). The `=` that separates them is the first one
    /// after the `@`, since a local part may itself hold `=`. Nil without `@`, `=` or value.
    public static func parseLeadOption(_ text: String) -> (email: String, value: String)? {
        guard let at = text.firstIndex(of: "@"), let equals = text[at...].firstIndex(of: "=") else { return nil }
        let email = text[..<equals].trimmingCharacters(in: .whitespaces)
        let value = String(text[text.index(after: equals)...])
        guard !email.isEmpty, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return (email, value)
    }

    /// Parses a list of statuses separated by commas (`504,524`).
    public static func parseStatuses(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.compactMap { $0 }
    }

    /// The rate of each fault kind, in draw order (new kinds go last, so the draws of an
    /// existing configuration and seed do not move).
    public var rates: [(SimFault, Double)] {
        [
            (.serverError, serverErrorRate), (.resetBeforeStore, resetBeforeStoreRate),
            (.resetAfterStore, resetAfterStoreRate), (.garbageBody, garbageBodyRate),
            (.statusError, statusErrorRate), (.slow, slowRate), (.oversizedBody, oversizedBodyRate),
            (.vendorTrouble, vendorTroubleRate), (.proxyPage, proxyPageRate),
        ]
    }

    /// The refusal message for `email`, if it is refused by message.
    func refusalMessage(for email: String) -> String? {
        let key = email.lowercased()
        return refusals.first { $0.key.trimmingCharacters(in: .whitespaces).lowercased() == key }?.value
    }

    /// The refused field for `email`, if it is refused by field.
    func refusedField(for email: String) -> String? {
        let key = email.lowercased()
        return fieldRefusals.first { $0.key.trimmingCharacters(in: .whitespaces).lowercased() == key }?.value
    }

    /// Checks ranges; returns a user-facing message for the first problem.
    public func validationError() -> String? {
        if latencyMs.lowerBound < 0 { return "latency must not be negative" }
        for (fault, rate) in rates where !(0...1).contains(rate) || rate.isNaN {
            return "rate of \(fault.rawValue) must be within 0…1, got \(rate)"
        }
        let total = rates.reduce(0) { $0 + $1.1 }
        if total > 1.000_001 { return "fault rates add up to \(total), more than 1" }
        if slowMs < 0 { return "slow delay must not be negative" }
        if oversizedBodyBytes < 0 { return "oversized body size must not be negative" }
        if proxyPageRate > 0, proxyPageStatuses.isEmpty { return "proxy pages need at least one status" }
        if let status = proxyPageStatuses.first(where: { !(400...599).contains($0) }) {
            return "proxy page status must be within 400…599, got \(status)"
        }
        for email in refusals.keys {
            if email.trimmingCharacters(in: .whitespaces).isEmpty { return "a refused email must not be empty" }
            if fieldRefusals.keys.contains(where: { $0.lowercased() == email.lowercased() }) {
                return "\(email) is refused both by message and by field"
            }
        }
        for (email, field) in fieldRefusals {
            if email.trimmingCharacters(in: .whitespaces).isEmpty { return "a refused email must not be empty" }
            if field.trimmingCharacters(in: .whitespaces).isEmpty {
                return "the refused field of \(email) must not be empty"
            }
        }
        if webinarNotFoundFirst < 0 { return "webinar-not-found count must not be negative" }
        if registrantsDownS < 0 { return "registrants downtime must not be negative" }
        return nil
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case latencyMs, serverErrorRate, resetBeforeStoreRate, resetAfterStoreRate, garbageBodyRate
        case statusErrorRate, slowRate, slowMs, oversizedBodyRate, oversizedBodyBytes, methods
        case vendorTroubleRate, proxyPageRate, proxyPageStatuses, refusals, fieldRefusals
        case webinarNotFoundFirst, registrantsDownS
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Every key optional (an absent key takes the initializer's default); an unknown key is an
    /// error, so a misspelt setting is not silently ignored.
    public init(from decoder: any Decoder) throws {
        let names = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "unknown setting '\(unknown)'; known: \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            )
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SimFaults()
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        if let range = try? container.decodeIfPresent([Int].self, forKey: .latencyMs) {
            guard range.count == 2, range[0] >= 0, range[1] >= range[0] else {
                throw DecodingError.dataCorruptedError(
                    forKey: .latencyMs,
                    in: container,
                    debugDescription: "expected [low, high] with 0 ≤ low ≤ high"
                )
            }
            latencyMs = range[0]...range[1]
        } else if let single = try? container.decodeIfPresent(Int.self, forKey: .latencyMs) {
            guard single >= 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .latencyMs,
                    in: container,
                    debugDescription: "negative latency"
                )
            }
            latencyMs = single...single
        } else if let text = try? container.decodeIfPresent(String.self, forKey: .latencyMs) {
            guard let range = Self.parseLatency(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .latencyMs,
                    in: container,
                    debugDescription: "expected 150 or 100-400, got \(text)"
                )
            }
            latencyMs = range
        } else if container.contains(.latencyMs), try !container.decodeNil(forKey: .latencyMs) {
            throw DecodingError.dataCorruptedError(
                forKey: .latencyMs,
                in: container,
                debugDescription: "expected [low, high], a number or \"low-high\""
            )
        } else {
            latencyMs = defaults.latencyMs
        }
        serverErrorRate = try value(.serverErrorRate, defaults.serverErrorRate)
        resetBeforeStoreRate = try value(.resetBeforeStoreRate, defaults.resetBeforeStoreRate)
        resetAfterStoreRate = try value(.resetAfterStoreRate, defaults.resetAfterStoreRate)
        garbageBodyRate = try value(.garbageBodyRate, defaults.garbageBodyRate)
        statusErrorRate = try value(.statusErrorRate, defaults.statusErrorRate)
        slowRate = try value(.slowRate, defaults.slowRate)
        slowMs = try value(.slowMs, defaults.slowMs)
        oversizedBodyRate = try value(.oversizedBodyRate, defaults.oversizedBodyRate)
        oversizedBodyBytes = try value(.oversizedBodyBytes, defaults.oversizedBodyBytes)
        methods = try value(.methods, defaults.methods)
        vendorTroubleRate = try value(.vendorTroubleRate, defaults.vendorTroubleRate)
        proxyPageRate = try value(.proxyPageRate, defaults.proxyPageRate)
        proxyPageStatuses = try value(.proxyPageStatuses, defaults.proxyPageStatuses)
        refusals = try value(.refusals, defaults.refusals)
        fieldRefusals = try value(.fieldRefusals, defaults.fieldRefusals)
        webinarNotFoundFirst = try value(.webinarNotFoundFirst, defaults.webinarNotFoundFirst)
        registrantsDownS = try value(.registrantsDownS, defaults.registrantsDownS)
    }

    /// Every key, `latencyMs` as `[low, high]`, `methods` sorted.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([latencyMs.lowerBound, latencyMs.upperBound], forKey: .latencyMs)
        try container.encode(serverErrorRate, forKey: .serverErrorRate)
        try container.encode(resetBeforeStoreRate, forKey: .resetBeforeStoreRate)
        try container.encode(resetAfterStoreRate, forKey: .resetAfterStoreRate)
        try container.encode(garbageBodyRate, forKey: .garbageBodyRate)
        try container.encode(statusErrorRate, forKey: .statusErrorRate)
        try container.encode(slowRate, forKey: .slowRate)
        try container.encode(slowMs, forKey: .slowMs)
        try container.encode(oversizedBodyRate, forKey: .oversizedBodyRate)
        try container.encode(oversizedBodyBytes, forKey: .oversizedBodyBytes)
        try container.encode(methods.map(\.rawValue).sorted(), forKey: .methods)
        try container.encode(vendorTroubleRate, forKey: .vendorTroubleRate)
        try container.encode(proxyPageRate, forKey: .proxyPageRate)
        try container.encode(proxyPageStatuses, forKey: .proxyPageStatuses)
        try container.encode(refusals, forKey: .refusals)
        try container.encode(fieldRefusals, forKey: .fieldRefusals)
        try container.encode(webinarNotFoundFirst, forKey: .webinarNotFoundFirst)
        try container.encode(registrantsDownS, forKey: .registrantsDownS)
    }
}

/// What the simulator does when the same email (case-insensitive) registers again into the
/// same webinar and schedule. The real API's behaviour is unknown, so each is playable.
public enum DuplicatePolicy: String, Sendable, Codable, CaseIterable {
    /// Return the existing user (same user_id and URLs); nothing new is stored.
    case sameUser
    /// Store a new user with a new user_id and new URLs.
    case newUser
    /// Refuse with HTTP 422 `{"status":"error","message":"This email is already registered …"}`.
    case error
}

/// Which API keys the simulator accepts.
public enum SimKeyPolicy: Sendable, Equatable {
    /// Any key of at least this many characters (default 8); others get the 401 envelope.
    case minimumLength(Int)
    /// Exactly these keys.
    case only(Set<String>)

    func accepts(_ key: String) -> Bool {
        switch self {
        case .minimumLength(let length): return key.count >= length
        case .only(let keys): return keys.contains(key)
        }
    }
}

/// Everything a simulator run needs. All fields have defaults: `SimulatorConfig()` is the
/// built-in account on a free loopback port with no faults and the vendor's 20 calls/s.
public struct SimulatorConfig: Sendable {
    /// TCP port on 127.0.0.1; 0 picks a free one (read it back from ``RunningSimulator/port``).
    public var port: Int
    /// Seed of the generator behind tokens, latency and fault draws.
    public var seed: UInt64
    /// The account's webinars.
    public var account: SimAccount
    /// Latency and fault injection the simulator starts with (replaceable while it runs).
    public var faults: SimFaults
    /// Duplicate registration behaviour.
    public var duplicatePolicy: DuplicatePolicy
    /// Accepted API call starts per key within `rateWindow` (default 20; the 21st is 429).
    public var rateLimit: Int
    /// Width of the sliding rate window (default 1 s).
    public var rateWindow: Duration
    /// Which keys are valid.
    public var keyPolicy: SimKeyPolicy
    /// Registrants per page of the `registrants` answer (the vendor does not document it).
    public var registrantsPerPage: Int
    /// How a call over the rate limit is answered (default ``SimRateLimitAnswer/plain``).
    public var rateLimitAnswer: SimRateLimitAnswer
    /// `true` when ``rateLimitAnswer`` is ``SimRateLimitAnswer/json``; setting it chooses
    /// `json` or `plain` (the older spelling of the setting).
    public var jsonRateLimitBody: Bool {
        get { rateLimitAnswer == .json }
        set { rateLimitAnswer = newValue ? .json : .plain }
    }
    /// `registrants` ignores its `search` parameter and lists every row of the webinar (and
    /// schedule): what the parameter matches is undocumented, so a client must filter itself.
    public var ignoreSearch: Bool
    /// Each `registrants` row also carries `"date"`, the registration's session date
    /// (`yyyy-MM-dd HH:mm` as the register answer gave it, `""` for Always on / Right now).
    /// Off by default: the real rows are not known to carry it.
    public var registrantsDates: Bool
    /// `registrants` links name the attendee another way than `register`'s did: `http://`,
    /// an upper-case host, the row's `lead_id` in the query and a trailing slash (the same
    /// attendee link, written differently; what a real account may do is unknown).
    public var registrantsLinkVariant: Bool = false
    /// Monotonic time since the configuration was made, for the rate limiter and the window
    /// statistics (from the `clocks` it was made with).
    public var now: @Sendable () -> Duration
    /// Wall time (seconds since 1970) for the registrations' sign-up dates.
    public var wall: @Sendable () -> Double
    /// First `user_id` handed out.
    public var firstUserID: Int

    /// Creates a configuration.
    public init<C>(
        port: Int = 0,
        seed: UInt64 = 42,
        account: SimAccount = .default,
        faults: SimFaults = SimFaults(),
        duplicatePolicy: DuplicatePolicy = .sameUser,
        rateLimit: Int = 20,
        rateWindow: Duration = .seconds(1),
        keyPolicy: SimKeyPolicy = .minimumLength(8),
        registrantsPerPage: Int = 20,
        jsonRateLimitBody: Bool = false,
        rateLimitAnswer: SimRateLimitAnswer = .plain,
        ignoreSearch: Bool = false,
        registrantsDates: Bool = false,
        clocks: Clocks<C> = Clocks<ContinuousClock>.system,
        firstUserID: Int = 1_234_567
    ) {
        self.port = port
        self.seed = seed
        self.account = account
        self.faults = faults
        self.duplicatePolicy = duplicatePolicy
        self.rateLimit = rateLimit
        self.rateWindow = rateWindow
        self.keyPolicy = keyPolicy
        self.registrantsPerPage = registrantsPerPage
        // `jsonRateLimitBody: true` is the older spelling of `rateLimitAnswer: .json`.
        self.rateLimitAnswer = jsonRateLimitBody && rateLimitAnswer == .plain ? .json : rateLimitAnswer
        self.ignoreSearch = ignoreSearch
        self.registrantsDates = registrantsDates
        self.now = clocks.elapsed()
        self.wall = clocks.wall
        self.firstUserID = firstUserID
    }

    /// Checks the settings; returns a user-facing message for the first problem.
    public func validationError() -> String? {
        if !(0...65535).contains(port) { return "port must be within 0…65535, got \(port)" }
        if rateLimit < 1 { return "rate limit must be at least 1" }
        if rateWindow <= .zero { return "rate window must be positive" }
        if registrantsPerPage < 1 { return "registrants per page must be at least 1" }
        if case .minimumLength(let length) = keyPolicy, length < 1 { return "minimum key length must be at least 1" }
        if let problem = faults.validationError() { return problem }
        do { try account.validate(source: "account") } catch { return error.description }
        return nil
    }
}
