import Foundation

/// The API methods themselves, once a call is admitted (`SimState.begin`): what each answers
/// and what it stores.
extension SimState {
    /// Runs the method and returns its answer (a 4xx is counted as rejected).
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

    func webinars(_ ticket: SimTicket) -> SimAnswer {
        let list = config.account.webinars
            .filter { $0.platform == ticket.platform }
            .sorted { $0.webinarID > $1.webinarID }
            .map { webinar -> JSONValue in
                var pairs = Self.identityPairs(webinar)
                pairs.append(("schedules", .array(webinar.schedules.map { .string($0.display ?? $0.comment) })))
                pairs.append(("timezone", .string(webinar.timezone)))
                return .object(pairs)
            }
        return .json(200, .object([("status", .string("success")), ("webinars", .array(list))]))
    }

    /// The fields that open a webinar in both `webinars` and `webinar` answers (`type` only
    /// on WebinarJam).
    static func identityPairs(_ webinar: SimWebinar) -> [(String, JSONValue)] {
        var pairs: [(String, JSONValue)] = [
            ("webinar_id", .int(webinar.webinarID)),
            ("webinar_hash", .string(webinar.webinarHash)),
            ("name", .string(webinar.name)),
            ("title", .string(webinar.title)),
            ("description", .string(webinar.description)),
        ]
        if webinar.platform == .webinarjam { pairs.append(("type", .optional(webinar.type))) }
        return pairs
    }

    /// The answer for a webinar id the account does not have.
    static let webinarNotFound = SimAnswer.message(400, "Webinar not found")

    func lookupWebinar(_ ticket: SimTicket, idField: String = "webinar_id") -> Result<SimWebinar, SimAnswer> {
        guard let raw = ticket.fields[idField], !raw.isEmpty else {
            return .failure(
                .error(422, [("errors", .object([(idField, .array([.string("The webinar id field is required.")]))]))])
            )
        }
        guard let id = Int(raw.trimmingCharacters(in: .whitespaces)) else {
            return .failure(
                .error(422, [("errors", .object([(idField, .array([.string("The webinar id must be an integer.")]))]))])
            )
        }
        guard
            let webinar = config.account.webinars.first(where: { $0.platform == ticket.platform && $0.webinarID == id })
        else {
            return .failure(Self.webinarNotFound)
        }
        return .success(webinar)
    }

    /// Resolves an optional `timezone` field: nil → the webinar's own zone.
    func displayZone(_ ticket: SimTicket, webinar: SimWebinar) -> Result<(TimeZone, String), SimAnswer> {
        let webinarZone = TimeZone(identifier: webinar.timezone) ?? TimeZone(secondsFromGMT: 0)!
        guard ticket.platform == .everwebinar, let text = ticket.fields["timezone"], !text.isEmpty else {
            return .success((webinarZone, webinar.timezone))
        }
        guard let zone = SimDates.gmtZone(text) else {
            return .failure(
                .error(422, [("errors", .string("Invalid timezone '\(text)': use GMT-5, GMT+2 or GMT+4:30"))])
            )
        }
        return .success((zone, text))
    }

    /// Session dates of a schedule in `zone`.
    func sessionDates(_ schedule: SimSchedule, webinar: SimWebinar, zone: TimeZone) -> [String] {
        schedule.dates.map { text in
            guard let date = SimDates.parse(text, timezone: webinar.timezone) else { return text }
            return SimDates.render(date, zone: zone)
        }
    }

    func webinar(_ ticket: SimTicket) -> SimAnswer {
        let webinar: SimWebinar
        switch lookupWebinar(ticket) {
        case .success(let found): webinar = found
        case .failure(let answer): return answer
        }
        if faults.webinarNotFoundFirst > 0 {
            let key = "\(ticket.platform.rawValue)/\(webinar.webinarID)"
            webinarCalls[key, default: 0] += 1
            if webinarCalls[key]! <= faults.webinarNotFoundFirst {
                countFault(named: "webinarNotFound")
                return Self.webinarNotFound
            }
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
                    ])
                )
            }
        }
        let base = "https://event.webinarjam.com"
        var pairs = Self.identityPairs(webinar)
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

    static func isValidEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].count >= 3 else { return false }
        let domain = parts[1]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains("..") else {
            return false
        }
        return !text.contains(where: { $0.isWhitespace || $0 == "," || $0 == ";" || $0 == "<" || $0 == ">" })
    }

    static let requiredMessages: [String: String] = [
        "webinar_id": "The webinar id field is required.",
        "first_name": "The first name field is required.",
        "email": "The email field is required.",
        "schedule": "The schedule field is required.",
        "last_name": "The last name field is required.",
        "phone_country_code": "The phone country code field is required.",
        "phone": "The phone field is required.",
        "country": "The country field is required.",
        "state": "The state field is required.",
        "twilio_consent": "The twilio consent field is required.",
        "timezone_id": "The timezone id field is required.",
    ]

    func register(_ ticket: SimTicket) -> SimAnswer {
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
                [("errors", .object(missing.map { ($0, .array([.string(Self.requiredMessages[$0]!)])) }))]
            )
        }
        // Leads refused on purpose (``SimFaults/refusals``): nothing stored.
        if let field = faults.refusedField(for: value("email")!) {
            countFault(named: "refusedField")
            return .error(422, [("errors", .object([(field, .array([.string("The \(field) is invalid.")]))]))])
        }
        if let message = faults.refusalMessage(for: value("email")!) {
            countFault(named: "refused")
            return .message(200, message)
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
                400,
                [("error", .string("Invalid schedule \(value("schedule")!) for webinar \(webinar.webinarID)"))]
            )
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
                            }
                        )
                    ),
                ]
            )
        }
        // 3b. Consent, timezone id and the webinar's questions: 422 as Laravel answers.
        let fieldErrors = Self.fieldErrors(ticket.fields, webinar: webinar)
        if !fieldErrors.isEmpty {
            return .error(
                422,
                [("message", .string("The given data was invalid.")), ("errors", .object(fieldErrors))]
            )
        }
        // 4. Formats: 422, errors as an object of strings.
        var formatErrors: [(String, JSONValue)] = []
        let email = value("email")!
        if !Self.isValidEmail(email) {
            formatErrors.append(("email", .string("The email must be a valid email address.")))
        }
        if let code = value("phone_country_code") {
            let digits = code.dropFirst()
            if !code.hasPrefix("+") || digits.isEmpty || !digits.allSatisfy(\.isASCII) || !digits.allSatisfy(\.isNumber)
            {
                formatErrors.append(
                    ("phone_country_code", .string("The phone country code must start with + followed by digits."))
                )
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
        var session = schedule.dates.first ?? ""
        if ticket.platform == .everwebinar, let requested = value("date") {
            guard let index = dates.firstIndex(of: requested) else {
                return .message(
                    422,
                    "Invalid date '\(requested)': it does not match any session of schedule \(schedule.schedule) (timezone \(zoneName))"
                )
            }
            date = requested
            session = schedule.dates[index]
        }
        // 6. Duplicates: the same person in the same webinar and schedule and, for
        // EverWebinar, the same session (two dates of one schedule are two registrations).
        let target = SimTarget(
            platform: ticket.platform,
            webinarID: webinar.webinarID,
            schedule: schedule.schedule,
            session: ticket.platform == .everwebinar ? session : "",
            email: email.lowercased()
        )
        let registration: SimRegistration
        switch (latestByTarget[target], config.duplicatePolicy) {
        case (.some, .error):
            return .message(422, "This email is already registered for this webinar.")
        case (let index?, .sameUser):
            registration = registrations[index]
        default:
            // A first registration, or `newUser`: a new user each time.
            registration = store(
                ticket,
                webinar: webinar,
                schedule: schedule,
                date: date,
                zoneName: zoneName,
                target: target
            )
        }
        stats.successfulRegisterCalls += 1
        stats.registerCallsByPerson[email.lowercased(), default: 0] += 1
        successfulCallsByTarget[target, default: 0] += 1
        return .json(
            200,
            .object([("status", .string("success")), ("user", userObject(registration, webinar: webinar))])
        )
    }

    /// Errors of the optional fields' values and of the webinar's questions: consent is
    /// `true`/`false`, a timezone id a number; a required question answered, a dropdown with
    /// one of its option ids, a multi-select with option ids only.
    static func fieldErrors(_ fields: [String: String], webinar: SimWebinar) -> [(String, JSONValue)] {
        func given(_ name: String) -> String? {
            guard let text = fields[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        var errors: [(String, JSONValue)] = []
        if let consent = given("twilio_consent"), !["true", "false", "1", "0"].contains(consent.lowercased()) {
            errors.append(("twilio_consent", .array([.string("The twilio consent field must be true or false.")])))
        }
        if let id = given("timezone_id"), Int(id) == nil {
            errors.append(("timezone_id", .array([.string("The timezone id must be an integer.")])))
        }
        for question in webinar.questions {
            let ids = Set(question.options.map { String($0.id) })
            switch question.type {
            case .text:
                if question.required && given(question.label) == nil {
                    errors.append((question.label, .array([.string("The \(question.label) field is required.")])))
                }
            case .dropdown:
                if let answer = given(question.label) {
                    if !ids.contains(answer) {
                        errors.append((question.label, .array([.string("The selected \(question.label) is invalid.")])))
                    }
                } else if question.required {
                    errors.append((question.label, .array([.string("The \(question.label) field is required.")])))
                }
            case .multiselect:
                let answers = FormDecoding.values(fields[question.fieldName]).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }.filter { !$0.isEmpty }
                if answers.isEmpty {
                    if question.required {
                        errors.append((question.label, .array([.string("The \(question.label) field is required.")])))
                    }
                } else if !answers.allSatisfy(ids.contains) {
                    errors.append((question.label, .array([.string("The selected \(question.label) is invalid.")])))
                }
            }
        }
        return errors
    }

    func store(
        _ ticket: SimTicket,
        webinar: SimWebinar,
        schedule: SimSchedule,
        date: String,
        zoneName: String,
        target: SimTarget
    ) -> SimRegistration {
        func value(_ name: String) -> String? {
            guard let text = ticket.fields[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
                return nil
            }
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
        var lists: [String: [String]] = [:]
        for (name, text) in ticket.fields where !known.contains(name) {
            if name.hasSuffix("[]") { lists[name] = FormDecoding.values(text) } else { extras[name] = text }
        }
        let userID = nextUserID
        nextUserID += 1
        let registration = SimRegistration(
            platform: ticket.platform,
            webinarID: webinar.webinarID,
            schedule: schedule.schedule,
            date: date,
            timezone: zoneName,
            email: value("email") ?? "",
            firstName: value("first_name") ?? "",
            lastName: value("last_name"),
            phoneCountryCode: value("phone_country_code"),
            phone: value("phone"),
            extraFields: extras,
            multiFields: lists,
            userID: userID,
            registrantID: registrations.count + 1,
            liveRoomURL: "\(base)/go/live/\(webinar.webinarID)/\(token)",
            replayRoomURL: "\(base)/go/replay/\(webinar.webinarID)/\(token)",
            thankYouURL: "\(base)/registration/thank-you/\(webinar.webinarID)/\(thankYouToken)",
            password: webinar.password ? random.token(length: 8) : nil,
            signupDate: SimDates.display(
                Date(timeIntervalSince1970: config.wall()),
                zone: TimeZone(identifier: webinar.timezone) ?? .current
            )
        )
        registrations.append(registration)
        latestByTarget[target] = registrations.count - 1
        return registration
    }

    func userObject(_ registration: SimRegistration, webinar: SimWebinar) -> JSONValue {
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
        for (name, text) in optional
        where webinar.returnedFields.contains(name) || webinar.requiredFields.contains(name) {
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

    func registrants(_ ticket: SimTicket) -> SimAnswer {
        let webinar: SimWebinar
        switch lookupWebinar(ticket) {
        case .success(let found): webinar = found
        case .failure(let answer): return answer
        }
        var scheduleFilter: Int?
        if let raw = ticket.fields["schedule_id"], !raw.isEmpty {
            guard let id = Int(raw) else {
                return .error(
                    422,
                    [("errors", .object([("schedule_id", .array([.string("The schedule id must be an integer.")]))]))]
                )
            }
            scheduleFilter = id
        }
        let search =
            config.ignoreSearch ? "" : ticket.fields["search"]?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let page = max(1, Int(ticket.fields["page"]?.trimmingCharacters(in: .whitespaces) ?? "") ?? 1)
        let perPage = config.registrantsPerPage
        let matching = registrations.filter { row in
            guard row.platform == ticket.platform, row.webinarID == webinar.webinarID,
                !deleted.contains(row.registrantID)
            else { return false }
            if let scheduleFilter, row.schedule != scheduleFilter { return false }
            if search.isEmpty { return true }
            return row.email.lowercased().contains(search) || row.firstName.lowercased().contains(search)
                || (row.lastName?.lowercased().contains(search) ?? false)
        }
        let lastPage = max(1, (matching.count + perPage - 1) / perPage)
        let rows = matching.dropFirst((page - 1) * perPage).prefix(perPage).map { row -> JSONValue in
            let token = row.liveRoomURL.split(separator: "/").last.map(String.init) ?? ""
            var pairs: [(String, JSONValue)] = [
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
            ]
            if config.registrantsDates { pairs.append(("date", .string(row.date))) }
            pairs += [
                ("attended_live", .int(0)),
                ("attended_replay", .int(0)),
                ("purchased", .int(0)),
                (
                    "links",
                    .object([
                        ("live_room", .string(link(row.liveRoomURL, lead: row.userID))),
                        ("replay_room", .string(link(row.replayRoomURL, lead: row.userID))),
                        ("unsubscribe", .string("https://event.webinarjam.com/unsubscribe/\(row.webinarID)/\(token)")),
                    ])
                ),
            ]
            return .object(pairs)
        }
        func link(_ url: String, lead: Int) -> String {
            guard config.registrantsLinkVariant else { return url }
            return url.replacingOccurrences(of: "https://event.webinarjam.com", with: "http://EVENT.webinarjam.com")
                + "/?lead_id=\(lead)"
        }
        // Laravel's length-aware paginator: the page URLs carry `?page=N` (a POST to one of
        // them reads the page from the query when the body has none).
        func pageURL(_ number: Int) -> JSONValue { .string("\(ticket.url)?page=\(number)") }
        let first = (page - 1) * perPage + 1
        let pageObject: JSONValue = .object([
            ("current_page", .int(page)),
            ("data", .array(Array(rows))),
            ("first_page_url", pageURL(1)),
            ("from", rows.isEmpty ? .null : .int(first)),
            ("last_page", .int(lastPage)),
            ("last_page_url", pageURL(lastPage)),
            ("next_page_url", page < lastPage ? pageURL(page + 1) : .null),
            ("path", .string(ticket.url)),
            ("per_page", .int(perPage)),
            ("prev_page_url", page > 1 ? pageURL(page - 1) : .null),
            ("to", rows.isEmpty ? .null : .int(first + rows.count - 1)),
            ("total", .int(matching.count)),
        ])
        return .json(200, .object([("status", .string("success")), ("registrants", pageObject)]))
    }
}
