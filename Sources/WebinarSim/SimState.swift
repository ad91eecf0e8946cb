import Foundation

/// The simulator's whole state: account, registrations, limiter, statistics, generator.
actor SimState {
    let config: SimulatorConfig
    /// The fault settings in force (``SimulatorConfig/faults`` until replaced).
    var faults: SimFaults
    /// When the fault settings took effect (start, reset or replacement), for
    /// ``SimFaults/registrantsDownS``.
    var faultsSince: Duration
    /// `webinar` calls that reached the application, per `platform/webinar_id`, since the
    /// fault settings took effect (for ``SimFaults/webinarNotFoundFirst``).
    var webinarCalls: [String: Int] = [:]
    /// Arrival of the first and the last register call (the sustained rate's span).
    var firstRegisterAt: Duration?
    var lastRegisterAt: Duration?
    /// Calls (of any method) since the first register call, and their number at the last one.
    var callsSinceFirstRegister = 0
    var callsAtLastRegister = 0
    var random: SeededRandom
    var stats: SimulatorStats
    var allStarts: SlidingWindow
    var acceptedStarts: SlidingWindow
    var limiters: [String: SlidingWindow] = [:]
    var registrations: [SimRegistration] = []
    /// Index into `registrations` of the latest registration per target.
    var latestByTarget: [SimTarget: Int] = [:]
    var successfulCallsByTarget: [SimTarget: Int] = [:]
    var usedTokens: Set<String> = []
    /// `registrantID`s deleted (``deleteRegistrants(platform:webinarID:schedule:emails:)``).
    var deleted: Set<Int> = []
    var nextUserID: Int
    var scriptedFaults: [SimFault] = []

    init(config: SimulatorConfig) {
        self.config = config
        self.faults = config.faults
        self.faultsSince = config.now()
        self.random = SeededRandom(seed: config.seed)
        self.stats = SimulatorStats(
            rateLimit: config.rateLimit,
            rateWindowMs: Int(config.rateWindow / .milliseconds(1))
        )
        self.allStarts = SlidingWindow(window: config.rateWindow)
        self.acceptedStarts = SlidingWindow(window: config.rateWindow)
        self.nextUserID = config.firstUserID
    }

    // MARK: Admin

    func snapshot() -> SimulatorStats {
        var result = stats
        result.maxCallsInWindow = allStarts.maxInWindow
        result.maxAcceptedCallsInWindow = acceptedStarts.maxInWindow
        result.duplicates = Set(successfulCallsByTarget.filter { $0.value > 1 }.keys.map(\.email)).count
        result.totalRegistrations = registrations.count
        result.callsInRegisterSpan = callsAtLastRegister
        if let first = firstRegisterAt, let last = lastRegisterAt {
            let span = last - first
            result.registerSpanSeconds = span / .seconds(1)
        }
        return result
    }

    func allRegistrations() -> [SimRegistration] { registrations.filter { !deleted.contains($0.registrantID) } }

    /// What the vendor does when a session is edited: every registrant of the schedule gets
    /// new live, replay and thank-you links. Returns how many were reset.
    func resetLinks(platform: SimPlatform, webinarID: Int, schedule: Int?) -> Int {
        var count = 0
        for index in registrations.indices {
            let row = registrations[index]
            guard row.platform == platform, row.webinarID == webinarID, schedule == nil || row.schedule == schedule,
                !deleted.contains(row.registrantID)
            else { continue }
            var token = random.token(length: 9)
            while usedTokens.contains(token) { token = random.token(length: 9) }
            usedTokens.insert(token)
            registrations[index].liveRoomURL = Self.replacingToken(row.liveRoomURL, with: token)
            registrations[index].replayRoomURL = Self.replacingToken(row.replayRoomURL, with: token)
            registrations[index].thankYouURL = Self.replacingToken(
                row.thankYouURL,
                with: token + random.token(length: 3)
            )
            count += 1
        }
        return count
    }

    /// What the vendor does when a session is deleted, or an admin removes a registrant: the
    /// registrations of these emails (any case) in the webinar (a schedule's, if given) are
    /// gone from `registrants`, and the person may register again. Returns how many.
    func deleteRegistrants(platform: SimPlatform, webinarID: Int, schedule: Int?, emails: [String]) -> Int {
        let wanted = Set(emails.map { $0.lowercased() })
        var count = 0
        for (index, row) in registrations.enumerated() {
            guard row.platform == platform, row.webinarID == webinarID, schedule == nil || row.schedule == schedule,
                wanted.contains(row.email.lowercased()), deleted.insert(row.registrantID).inserted
            else { continue }
            count += 1
            for (target, latest) in latestByTarget where latest == index { latestByTarget[target] = nil }
        }
        return count
    }

    static func replacingToken(_ url: String, with token: String) -> String {
        guard let slash = url.lastIndex(of: "/") else { return url }
        return String(url[...slash]) + token
    }

    func reset() {
        stats = SimulatorStats(rateLimit: config.rateLimit, rateWindowMs: Int(config.rateWindow / .milliseconds(1)))
        allStarts = SlidingWindow(window: config.rateWindow)
        acceptedStarts = SlidingWindow(window: config.rateWindow)
        limiters = [:]
        registrations = []
        deleted = []
        latestByTarget = [:]
        successfulCallsByTarget = [:]
        scriptedFaults = []
        webinarCalls = [:]
        faultsSince = config.now()
        firstRegisterAt = nil
        lastRegisterAt = nil
        callsSinceFirstRegister = 0
        callsAtLastRegister = 0
    }

    func currentFaults() -> SimFaults { faults }

    /// Replaces the fault settings (already validated); restarts the registrants downtime and
    /// the webinar-not-found counts. Registrations, counters and queued faults are kept.
    func replaceFaults(_ newFaults: SimFaults) {
        faults = newFaults
        webinarCalls = [:]
        faultsSince = config.now()
    }

    func enqueueFaults(_ faults: [SimFault]) {
        scriptedFaults.append(contentsOf: faults)
    }

    func countMethodNotAllowed() {
        stats.methodNotAllowed += 1
    }

    func countFault(_ fault: SimFault) {
        countFault(named: fault.rawValue)
    }

    func countFault(named name: String) {
        stats.faultsInjected[name, default: 0] += 1
    }

    // MARK: Call start

    /// Counts the call, checks the key and the rate limit, draws latency and a fault.
    func begin(
        platform platformName: String,
        method methodName: String,
        fields: [String: String]?,
        url: String = ""
    )
        -> SimPlan
    {
        let now = config.now()
        let platform = SimPlatform(rawValue: platformName)
        let method = SimMethod(rawValue: methodName)
        let platformLabel = platform?.rawValue ?? "unknown"
        let methodLabel = method?.rawValue ?? "unknown"
        stats.totalCalls += 1
        stats.callsByMethod[methodLabel, default: 0] += 1
        stats.callsByPlatform[platformLabel, default: 0] += 1
        stats.callsByPlatformMethod["\(platformLabel)/\(methodLabel)", default: 0] += 1
        allStarts.record(at: now)
        if method == .register && firstRegisterAt == nil { firstRegisterAt = now }
        if firstRegisterAt != nil { callsSinceFirstRegister += 1 }
        if method == .register {
            lastRegisterAt = now
            callsAtLastRegister = callsSinceFirstRegister
        }

        guard let platform, let method else {
            stats.rejected += 1
            return .answer(.message(404, "Not found"))
        }
        guard let fields else {
            stats.rejected += 1
            return .answer(.message(400, "The request body could not be read"))
        }
        guard let key = fields["api_key"], !key.isEmpty else {
            stats.unauthorized += 1
            return .answer(
                .error(400, [("errors", .object([("api_key", .array([.string("The api key field is required.")]))]))])
            )
        }
        guard config.keyPolicy.accepts(key) else {
            stats.unauthorized += 1
            return .answer(
                .error(401, [("errors", .object([("api_key", .string("You must specify a valid API key"))]))])
            )
        }
        var limiter = limiters[key] ?? SlidingWindow(window: config.rateWindow)
        let admitted = limiter.admit(at: now, limit: config.rateLimit)
        limiters[key] = limiter
        guard admitted else {
            stats.rateLimited += 1
            switch config.rateLimitAnswer {
            case .plain:
                return .answer(
                    SimAnswer(status: 429, contentType: "text/plain; charset=utf-8", body: "Too many requests")
                )
            case .json: return .answer(.message(429, "Too many requests"))
            case .json200: return .answer(.message(200, "Too many requests"))
            case .html: return .answer(SimPages.rateLimit)
            }
        }
        acceptedStarts.record(at: now)

        let latency = faults.latencyMs
        var delay = latency.lowerBound
        if latency.upperBound > latency.lowerBound {
            delay += Int(random.next() % UInt64(latency.upperBound - latency.lowerBound + 1))
        }
        var ticket = SimTicket(
            platform: platform,
            method: method,
            fields: fields,
            fault: nil,
            delayMs: delay,
            url: url,
            oversizedBodyBytes: faults.oversizedBodyBytes
        )
        // A registrants outage comes before any other fault (and consumes no queued one).
        if method == .registrants, faults.registrantsDownS > 0, now - faultsSince < .seconds(faults.registrantsDownS) {
            countFault(named: "registrantsDown")
            ticket.registrantsDown = true
            return .proceed(ticket)
        }
        var fault: SimFault?
        if faults.methods.contains(method) {
            if !scriptedFaults.isEmpty {
                fault = scriptedFaults.removeFirst()
            } else {
                let draw = random.unit()
                var cumulative = 0.0
                for (kind, rate) in faults.rates where rate > 0 {
                    cumulative += rate
                    if draw < cumulative {
                        fault = kind
                        break
                    }
                }
            }
        }
        if let fault {
            countFault(fault)
            switch fault {
            case .slow:
                ticket.delayMs += faults.slowMs
            case .vendorTrouble:
                ticket.variant = Int(random.next() % UInt64(SimPages.troubleVariants))
            case .proxyPage:
                let statuses =
                    faults.proxyPageStatuses.isEmpty ? SimFaults.allProxyPageStatuses : faults.proxyPageStatuses
                ticket.variant = statuses[Int(random.next() % UInt64(statuses.count))]
                stats.proxyPagesByStatus[String(ticket.variant), default: 0] += 1
            default:
                break
            }
        }
        ticket.fault = fault
        return .proceed(ticket)
    }
}
