import Foundation

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

/// A fault the simulator can inject into one API call.
public enum SimFault: String, Sendable, Codable, CaseIterable, Hashable {
    /// HTTP 500/502/503 with an HTML or JSON body; nothing stored.
    case serverError
    /// The connection is closed without an answer before anything is stored.
    case resetBeforeStore
    /// The registration is stored, then the connection is closed without an answer.
    case resetAfterStore
    /// HTTP 200 with a truncated JSON body; the registration is stored.
    case garbageBody
    /// HTTP 200 with `{"status":"error","message":…}`; nothing stored.
    case statusError
    /// The answer takes `slowMs` more; the registration is stored when the delay ends,
    /// whether or not the client still waits.
    case slow
    /// HTTP 200, a valid answer padded to `oversizedBodyBytes`; the registration is stored.
    case oversizedBody
}

/// Fault injection settings. Rates are probabilities in `0...1` per eligible call; their sum
/// must not exceed 1. Draws come from the simulator's seeded generator, so a run is
/// reproducible for a given seed and call order.
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
    /// The methods faults apply to (default: `register` only). Latency applies to all.
    public var methods: Set<SimMethod>

    /// No faults, no latency.
    public init(
        latencyMs: ClosedRange<Int> = 0...0, serverErrorRate: Double = 0, resetBeforeStoreRate: Double = 0,
        resetAfterStoreRate: Double = 0, garbageBodyRate: Double = 0, statusErrorRate: Double = 0,
        slowRate: Double = 0, slowMs: Int = 5_000, oversizedBodyRate: Double = 0,
        oversizedBodyBytes: Int = 8 * 1024 * 1024, methods: Set<SimMethod> = [.register]
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

    /// The rate of each fault kind, in draw order.
    public var rates: [(SimFault, Double)] {
        [
            (.serverError, serverErrorRate), (.resetBeforeStore, resetBeforeStoreRate),
            (.resetAfterStore, resetAfterStoreRate), (.garbageBody, garbageBodyRate),
            (.statusError, statusErrorRate), (.slow, slowRate), (.oversizedBody, oversizedBodyRate),
        ]
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
        return nil
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
    /// Latency and fault injection.
    public var faults: SimFaults
    /// Duplicate registration behaviour.
    public var duplicatePolicy: DuplicatePolicy
    /// Accepted API call starts per key within `rateWindow` (default 20; the 21st is 429).
    public var rateLimit: Int
    /// Width of the sliding rate window (default 1 s).
    public var rateWindow: Duration
    /// Which keys are valid.
    public var keyPolicy: SimKeyPolicy
    /// Registrants per page of the `registrants` answer.
    public var registrantsPerPage: Int
    /// Body of a 429: `false` → plain text `Too many requests`; `true` → JSON
    /// `{"status":"error","message":"Too many requests"}`.
    public var jsonRateLimitBody: Bool
    /// Monotonic time for the rate limiter and the window statistics. Tests inject a
    /// ``SimManualClock``'s `now`; the default reads `ContinuousClock`.
    public var now: @Sendable () -> Duration
    /// First `user_id` handed out.
    public var firstUserID: Int

    /// Creates a configuration.
    public init(
        port: Int = 0, seed: UInt64 = 42, account: SimAccount = .default, faults: SimFaults = SimFaults(),
        duplicatePolicy: DuplicatePolicy = .sameUser, rateLimit: Int = 20, rateWindow: Duration = .seconds(1),
        keyPolicy: SimKeyPolicy = .minimumLength(8), registrantsPerPage: Int = 20,
        jsonRateLimitBody: Bool = false, now: (@Sendable () -> Duration)? = nil, firstUserID: Int = 1_234_567
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
        self.jsonRateLimitBody = jsonRateLimitBody
        if let now {
            self.now = now
        } else {
            let origin = ContinuousClock.now
            self.now = { ContinuousClock.now - origin }
        }
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

/// A clock that only moves when told to, for deterministic rate-limit tests.
public final class SimManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Duration

    /// Starts at `start` (default 1000 s, so windows reaching back stay positive).
    public init(start: Duration = .seconds(1000)) {
        self.current = start
    }

    /// The current time.
    public var now: Duration {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Moves time forward.
    public func advance(by amount: Duration) {
        lock.lock()
        current += amount
        lock.unlock()
    }

    /// A closure for ``SimulatorConfig/now``.
    public var nowFunction: @Sendable () -> Duration { { self.now } }
}
