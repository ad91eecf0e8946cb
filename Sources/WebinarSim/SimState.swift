import Foundation

/// An API answer before it is written: status, content type and body.
struct SimAnswer: Error, Sendable {
    var status: Int
    var contentType: String
    var body: String

    static func json(_ status: Int, _ value: JSONValue) -> SimAnswer {
        SimAnswer(status: status, contentType: "application/json", body: value.rendered)
    }

    static func error(_ status: Int, _ pairs: [(String, JSONValue)]) -> SimAnswer {
        .json(status, .object([("status", .string("error"))] + pairs))
    }

    static func message(_ status: Int, _ text: String) -> SimAnswer {
        .error(status, [("message", .string(text))])
    }
}

/// What the HTTP layer must do for one API call after ``SimState/begin(platform:method:fields:)``.
enum SimPlan: Sendable {
    /// Answer at once (404, key errors, 429, body problems).
    case answer(SimAnswer)
    /// Go on: wait `delayMs`, apply `fault`, then ``SimState/execute(_:)``.
    case proceed(SimTicket)
}

/// An accepted call.
struct SimTicket: Sendable {
    var platform: SimPlatform
    var method: SimMethod
    var fields: [String: String]
    var fault: SimFault?
    var delayMs: Int
}

/// The simulator's whole state: account, registrations, limiter, statistics, generator.
actor SimState {
    private let config: SimulatorConfig
    private var random: SeededRandom
    private var stats: SimulatorStats
    private var allStarts: SlidingWindow
    private var acceptedStarts: SlidingWindow
    private var limiters: [String: SlidingWindow] = [:]
    private var registrations: [SimRegistration] = []
    /// Index into `registrations` of the latest registration per `platform/webinar/schedule/email`.
    private var latestByTarget: [String: Int] = [:]
    private var successfulCallsByTarget: [String: Int] = [:]
    private var usedTokens: Set<String> = []
    private var nextUserID: Int
    private var scriptedFaults: [SimFault] = []

    init(config: SimulatorConfig) {
        self.config = config
        self.random = SeededRandom(seed: config.seed)
        self.stats = SimulatorStats(rateLimit: config.rateLimit, rateWindowMs: Int(config.rateWindow.milliseconds))
        self.allStarts = SlidingWindow(window: config.rateWindow)
        self.acceptedStarts = SlidingWindow(window: config.rateWindow)
        self.nextUserID = config.firstUserID
    }

    // MARK: Admin

    func snapshot() -> SimulatorStats {
        var result = stats
        result.maxCallsInWindow = allStarts.maxInWindow
        result.maxAcceptedCallsInWindow = acceptedStarts.maxInWindow
        result.duplicates = Set(
            successfulCallsByTarget.filter { $0.value > 1 }.keys.map { key in
                String(key.split(separator: "/", maxSplits: 3).last ?? "")
            }
        ).count
        result.totalRegistrations = registrations.count
        return result
    }

    func allRegistrations() -> [SimRegistration] { registrations }

    func reset() {
        stats = SimulatorStats(rateLimit: config.rateLimit, rateWindowMs: Int(config.rateWindow.milliseconds))
        allStarts = SlidingWindow(window: config.rateWindow)
        acceptedStarts = SlidingWindow(window: config.rateWindow)
        limiters = [:]
        registrations = []
        latestByTarget = [:]
        successfulCallsByTarget = [:]
        scriptedFaults = []
    }

    func enqueueFaults(_ faults: [SimFault]) {
        scriptedFaults.append(contentsOf: faults)
    }

    func countMethodNotAllowed() {
        stats.methodNotAllowed += 1
    }

    func countFault(_ fault: SimFault) {
        stats.faultsInjected[fault.rawValue, default: 0] += 1
    }

    // MARK: Call start

    /// Counts the call, checks the key and the rate limit, draws latency and a fault.
    func begin(platform platformName: String, method methodName: String, fields: [String: String]?) -> SimPlan {
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
            return .answer(.error(400, [("errors", .object([("api_key", .array([.string("The api key field is required.")]))]))]))
        }
        guard config.keyPolicy.accepts(key) else {
            stats.unauthorized += 1
            return .answer(.error(401, [("errors", .object([("api_key", .string("You must specify a valid API key"))]))]))
        }
        var limiter = limiters[key] ?? SlidingWindow(window: config.rateWindow)
        let admitted = limiter.admit(at: now, limit: config.rateLimit)
        limiters[key] = limiter
        guard admitted else {
            stats.rateLimited += 1
            if config.jsonRateLimitBody {
                return .answer(.message(429, "Too many requests"))
            }
            return .answer(SimAnswer(status: 429, contentType: "text/plain; charset=utf-8", body: "Too many requests"))
        }
        acceptedStarts.record(at: now)

        let latency = config.faults.latencyMs
        var delay = latency.lowerBound
        if latency.upperBound > latency.lowerBound {
            delay += Int(random.next() % UInt64(latency.upperBound - latency.lowerBound + 1))
        }
        var fault: SimFault?
        if config.faults.methods.contains(method) {
            if !scriptedFaults.isEmpty {
                fault = scriptedFaults.removeFirst()
            } else {
                let draw = random.unit()
                var cumulative = 0.0
                for (kind, rate) in config.faults.rates where rate > 0 {
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
            if fault == .slow { delay += config.faults.slowMs }
        }
        return .proceed(SimTicket(platform: platform, method: method, fields: fields, fault: fault, delayMs: delay))
    }

    // MARK: Methods

    /// Runs the method. Returns the answer and whether a registration was stored or returned.
    func execute(_ ticket: SimTicket) -> SimAnswer {
        let answer: SimAnswer
        switch ticket.method {
        case .webinars: answer = webinars(ticket)
        case .webinar: answer = webinar(ticket)
        case .register: answer = register(ticket)
        case .registrants: answer = registrants(ticket)
        }
        if (400...499).contains(answer.status) { stats.rejected += 1 }
        return answer
    }

    private func webinars(_ ticket: SimTicket) -> SimAnswer {
        let list = config.account.webinars
            .filter { $0.platform == ticket.platform }
            .sorted { $0.webinarID > $1.webinarID }
            .map { webinar -> JSONValue in
                var pairs: [(String, JSONValue)] = [
                    ("webinar_id", .int(webinar.webinarID)),
                    ("webinar_hash", .string(webinar.webinarHash)),
                    ("name", .string(webinar.name)),
                    ("title", .string(webinar.title)),
                    ("description", .string(webinar.description)),
                ]
                if webinar.platform == .webinarjam { pairs.append(("type", .optional(webinar.type))) }
                pairs.append(("schedules", .array(webinar.schedules.map { .string($0.display ?? $0.comment) })))
                pairs.append(("timezone", .string(webinar.timezone)))
                return .object(pairs)
            }
        return .json(200, .object([("status", .string("success")), ("webinars", .array(list))]))
    }

    private func lookupWebinar(_ ticket: SimTicket, idField: String = "webinar_id") -> Result<SimWebinar, SimAnswer> {
        guard let raw = ticket.fields[idField], !raw.isEmpty else {
            return .failure(
                .error(422, [("errors", .object([(idField, .array([.string("The webinar id field is required.")]))]))]))
        }
        guard let id = Int(raw.trimmingCharacters(in: .whitespaces)) else {
            return .failure(
                .error(422, [("errors", .object([(idField, .array([.string("The webinar id must be an integer.")]))]))]))
        }
        guard let webinar = config.account.webinars.first(where: { $0.platform == ticket.platform && $0.webinarID == id })
        else {
            return .failure(.message(400, "Webinar not found"))
        }
        return .success(webinar)
    }

    /// Resolves an optional `timezone` field: nil → the webinar's own zone.
    private func displayZone(_ ticket: SimTicket, webinar: SimWebinar) -> Result<(TimeZone, String), SimAnswer> {
        let webinarZone = TimeZone(identifier: webinar.timezone) ?? TimeZone(secondsFromGMT: 0)!
        guard ticket.platform == .everwebinar, let text = ticket.fields["timezone"], !text.isEmpty else {
            return .success((webinarZone, webinar.timezone))
        }
        guard let zone = SimDates.gmtZone(text) else {
            return .failure(.error(422, [("errors", .string("Invalid timezone '\(text)': use GMT-5, GMT+2 or GMT+4:30"))]))
        }
        return .success((zone, text))
    }

    /// Session dates of a schedule in `zone`.
    private func sessionDates(_ schedule: SimSchedule, webinar: SimWebinar, zone: TimeZone) -> [String] {
        schedule.dates.map { text in
            guard let date = SimDates.parse(text, timezone: webinar.timezone) else { return text }
            return SimDates.render(date, zone: zone)
        }
    }

    private func webinar(_ ticket: SimTicket) -> SimAnswer {
        let webinar: SimWebinar
        switch lookupWebinar(ticket) {
        case .success(let found): webinar = found
        case .failure(let answer): return answer
        }
        let zone: TimeZone
        let zoneName: String
        switch displayZone(ticket, webinar: webinar) {
        case .success(let resolved): (zone, zoneName) = resolved
        case .failure(let answer): return answer
        }
        var schedules: [JSONValue] = []
        for schedule in webinar.schedules {
            let dates = sessionDates(schedule, webinar: webinar, zone: zone)
            for date in dates.isEmpty ? [""] : dates {
                schedules.append(
                    .object([
                        ("date", .string(date)), ("schedule", .int(schedule.schedule)),
                        ("comment", .string(schedule.comment)),
                    ]))
            }
        }
        let base = "https://event.webinarjam.com"
        var pairs: [(String, JSONValue)] = [
            ("webinar_id", .int(webinar.webinarID)),
            ("webinar_hash", .string(webinar.webinarHash)),
            ("name", .string(webinar.name)),
            ("title", .string(webinar.title)),
            ("description", .string(webinar.description)),
        ]
        if webinar.platform == .webinarjam { pairs.append(("type", .optional(webinar.type))) }
        pairs += [
            ("schedules", .array(schedules)),
            ("timezone", .string(zoneName)),
            (
                "presenters",
                .array([
                    .object([
                        ("name", .string("John Doe")), ("email", .string("john.doe@example.com")),
                        ("picture", .string("https://test.s3.amazonaws.com/default_user.jpg")),
                    ])
                ])
            ),
            ("registration_url", .string("\(base)/register/\(webinar.webinarID)/\(webinar.webinarHash)")),
            ("registration_type", .string("free")),
            ("registration_fee", .int(0)),
            ("registration_currency", .string("")),
            ("registration_checkout_url", .string("")),
            ("registration_post_payment_url", .string("")),
            ("direct_live_room_url", .string("\(base)/go/live/\(webinar.webinarID)/\(webinar.webinarHash)ab12")),
            ("direct_replay_room_url", .string("\(base)/go/replay/\(webinar.webinarID)/\(webinar.webinarHash)ab12")),
        ]
        return .json(200, .object([("status", .string("success")), ("webinar", .object(pairs))]))
    }

    private static func isValidEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].count >= 3 else { return false }
        let domain = parts[1]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains("..") else {
            return false
        }
        return !text.contains(where: { $0.isWhitespace || $0 == "," || $0 == ";" || $0 == "<" || $0 == ">" })
    }

    private static let requiredMessages: [String: String] = [
        "webinar_id": "The webinar id field is required.",
        "first_name": "The first name field is required.",
        "email": "The email field is required.",
        "schedule": "The schedule field is required.",
        "last_name": "The last name field is required.",
        "phone_country_code": "The phone country code field is required.",
        "phone": "The phone field is required.",
    ]

    private func register(_ ticket: SimTicket) -> SimAnswer {
        let fields = ticket.fields
        func value(_ name: String) -> String? {
            guard let text = fields[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        // 1. Always-required fields: 422, errors as an object of arrays.
        let missing = ["webinar_id", "first_name", "email", "schedule"].filter { value($0) == nil }
        if !missing.isEmpty {
            return .error(
                422,
                [("errors", .object(missing.map { ($0, .array([.string(Self.requiredMessages[$0]!)])) }))])
        }
        // 2. Webinar and schedule: 400 with `message`, then with `error`.
        let webinar: SimWebinar
        switch lookupWebinar(ticket) {
        case .success(let found): webinar = found
        case .failure(let answer): return answer
        }
        guard let scheduleID = Int(value("schedule")!),
            let schedule = webinar.schedules.first(where: { $0.schedule == scheduleID })
        else {
            return .error(
                400, [("error", .string("Invalid schedule \(value("schedule")!) for webinar \(webinar.webinarID)"))])
        }
        // 3. Fields this webinar requires: 422, `message` plus errors as an object of arrays.
        let missingRequired = webinar.requiredFields.filter { value($0) == nil }
        if !missingRequired.isEmpty {
            return .error(
                422,
                [
                    ("message", .string("The given data was invalid.")),
                    (
                        "errors",
                        .object(
                            missingRequired.map {
                                ($0, .array([.string(Self.requiredMessages[$0] ?? "The \($0) field is required.")]))
                            })
                    ),
                ])
        }
        // 4. Formats: 422, errors as an object of strings.
        var formatErrors: [(String, JSONValue)] = []
        let email = value("email")!
        if !Self.isValidEmail(email) {
            formatErrors.append(("email", .string("The email must be a valid email address.")))
        }
        if let code = value("phone_country_code") {
            let digits = code.dropFirst()
            if !code.hasPrefix("+") || digits.isEmpty || !digits.allSatisfy(\.isASCII) || !digits.allSatisfy(\.isNumber) {
                formatErrors.append(("phone_country_code", .string("The phone country code must start with + followed by digits.")))
            }
        }
        if let phone = value("phone"), !(phone.allSatisfy { $0.isASCII && $0.isNumber }) {
            formatErrors.append(("phone", .string("The phone may only contain numbers.")))
        }
        if !formatErrors.isEmpty {
            return .error(422, [("errors", .object(formatErrors))])
        }
        // 5. EverWebinar timezone and date: errors as a string, then `message`.
        let zone: TimeZone
        let zoneName: String
        switch displayZone(ticket, webinar: webinar) {
        case .success(let resolved): (zone, zoneName) = resolved
        case .failure(let answer): return answer
        }
        let dates = sessionDates(schedule, webinar: webinar, zone: zone)
        var date = dates.first ?? ""
        if ticket.platform == .everwebinar, let requested = value("date") {
            guard dates.contains(requested) else {
                return .message(
                    422,
                    "Invalid date '\(requested)': it does not match any session of schedule \(schedule.schedule) (timezone \(zoneName))"
                )
            }
            date = requested
        }
        // 6. Duplicates.
        let target = "\(ticket.platform.rawValue)/\(webinar.webinarID)/\(schedule.schedule)/\(email.lowercased())"
        let registration: SimRegistration
        if let index = latestByTarget[target] {
            switch config.duplicatePolicy {
            case .error:
                return .message(422, "This email is already registered for this webinar.")
            case .sameUser:
                registration = registrations[index]
            case .newUser:
                registration = store(ticket, webinar: webinar, schedule: schedule, date: date, zoneName: zoneName, target: target)
            }
        } else {
            registration = store(ticket, webinar: webinar, schedule: schedule, date: date, zoneName: zoneName, target: target)
        }
        stats.successfulRegisterCalls += 1
        stats.registerCallsByPerson[email.lowercased(), default: 0] += 1
        successfulCallsByTarget[target, default: 0] += 1
        return .json(200, .object([("status", .string("success")), ("user", userObject(registration, webinar: webinar))]))
    }

    private func store(
        _ ticket: SimTicket, webinar: SimWebinar, schedule: SimSchedule, date: String, zoneName: String,
        target: String
    ) -> SimRegistration {
        func value(_ name: String) -> String? {
            guard let text = ticket.fields[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        var token = random.token(length: 9)
        while usedTokens.contains(token) { token = random.token(length: 9) }
        usedTokens.insert(token)
        let thankYouToken = token + random.token(length: 3)
        let base = "https://event.webinarjam.com"
        let known: Set<String> = [
            "api_key", "webinar_id", "first_name", "last_name", "email", "schedule", "ip_address",
            "phone_country_code", "phone", "timezone", "date",
        ]
        var extras: [String: String] = [:]
        for (name, text) in ticket.fields where !known.contains(name) { extras[name] = text }
        let userID = nextUserID
        nextUserID += 1
        let registration = SimRegistration(
            platform: ticket.platform, webinarID: webinar.webinarID, schedule: schedule.schedule, date: date,
            timezone: zoneName, email: value("email") ?? "", firstName: value("first_name") ?? "",
            lastName: value("last_name"), phoneCountryCode: value("phone_country_code"), phone: value("phone"),
            extraFields: extras, userID: userID, registrantID: registrations.count + 1,
            liveRoomURL: "\(base)/go/live/\(webinar.webinarID)/\(token)",
            replayRoomURL: "\(base)/go/replay/\(webinar.webinarID)/\(token)",
            thankYouURL: "\(base)/registration/thank-you/\(webinar.webinarID)/\(thankYouToken)",
            password: webinar.password ? random.token(length: 8) : nil,
            signupDate: SimDates.display(Date(), zone: TimeZone(identifier: webinar.timezone) ?? .current)
        )
        registrations.append(registration)
        latestByTarget[target] = registrations.count - 1
        return registration
    }

    private func userObject(_ registration: SimRegistration, webinar: SimWebinar) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("webinar_id", .int(webinar.webinarID)),
            ("webinar_hash", .string(webinar.webinarHash)),
            ("user_id", .int(registration.userID)),
            ("first_name", .string(registration.firstName)),
        ]
        let optional: [(String, String?)] = [
            ("last_name", registration.lastName), ("phone_country_code", registration.phoneCountryCode),
            ("phone", registration.phone),
        ]
        for (name, text) in optional where webinar.returnedFields.contains(name) || webinar.requiredFields.contains(name) {
            pairs.append((name, .string(text ?? "")))
        }
        pairs += [
            ("email", .string(registration.email)),
            ("password", .optional(registration.password)),
            (
                "schedule",
                webinar.platform == .everwebinar ? .string(String(registration.schedule)) : .int(registration.schedule)
            ),
            ("date", .string(registration.date)),
            ("timezone", .string(registration.timezone)),
            ("live_room_url", .string(registration.liveRoomURL)),
            ("replay_room_url", .string(registration.replayRoomURL)),
            ("thank_you_url", .string(registration.thankYouURL)),
        ]
        return .object(pairs)
    }

    private func registrants(_ ticket: SimTicket) -> SimAnswer {
        let webinar: SimWebinar
        switch lookupWebinar(ticket) {
        case .success(let found): webinar = found
        case .failure(let answer): return answer
        }
        var scheduleFilter: Int?
        if let raw = ticket.fields["schedule_id"], !raw.isEmpty {
            guard let id = Int(raw) else {
                return .error(422, [("errors", .object([("schedule_id", .array([.string("The schedule id must be an integer.")]))]))])
            }
            scheduleFilter = id
        }
        let search = ticket.fields["search"]?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let page = max(1, Int(ticket.fields["page"] ?? "") ?? 1)
        let perPage = config.registrantsPerPage
        let matching = registrations.filter { row in
            guard row.platform == ticket.platform, row.webinarID == webinar.webinarID else { return false }
            if let scheduleFilter, row.schedule != scheduleFilter { return false }
            if search.isEmpty { return true }
            return row.email.lowercased().contains(search) || row.firstName.lowercased().contains(search)
                || (row.lastName?.lowercased().contains(search) ?? false)
        }
        let lastPage = max(1, (matching.count + perPage - 1) / perPage)
        let rows = matching.dropFirst((page - 1) * perPage).prefix(perPage).map { row -> JSONValue in
            let token = row.liveRoomURL.split(separator: "/").last.map(String.init) ?? ""
            return .object([
                ("id", .int(row.registrantID)),
                ("lead_id", .int(row.userID)),
                ("first_name", .string(row.firstName)),
                ("last_name", .string(row.lastName ?? "")),
                ("email", .string(row.email)),
                ("phone_country_code", .string(row.phoneCountryCode ?? "")),
                ("phone_number", .string(row.phone ?? "")),
                ("schedule_id", .int(row.schedule)),
                ("event_id", .int(row.webinarID * 1000 + row.schedule)),
                ("signup_date", .string(row.signupDate)),
                ("attended_live", .int(0)),
                ("attended_replay", .int(0)),
                ("purchased", .int(0)),
                (
                    "links",
                    .object([
                        ("live_room", .string(row.liveRoomURL)),
                        ("replay_room", .string(row.replayRoomURL)),
                        ("unsubscribe", .string("https://event.webinarjam.com/unsubscribe/\(row.webinarID)/\(token)")),
                    ])
                ),
            ])
        }
        let pageObject: JSONValue = .object([
            ("current_page", .int(page)),
            ("last_page", .int(lastPage)),
            ("per_page", .int(perPage)),
            ("total", .int(matching.count)),
            ("data", .array(Array(rows))),
        ])
        return .json(200, .object([("status", .string("success")), ("registrants", pageObject)]))
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
