import Foundation

/// Turns an HTTP status and body into a `Result` for each API method.
///
/// Decoding is lenient on purpose (the real API's types drift): ids may be ints, integral
/// doubles or numeric strings (`"55"`); strings may arrive as numbers; `null`, absent and `""`
/// all mean "no value" for optional fields (so an empty `replay_room_url` is `nil`, never a
/// broken URL); unknown fields are ignored. An answer is refused only when a value the runner
/// needs is missing: `user_id` and `live_room_url` of `register`, `webinar_id` of a webinar.
enum AnswerParser {
    /// Maximum length of an error message taken from an answer.
    static let maxMessageLength = 500

    // MARK: Methods

    static func webinars(status: Int, body: [UInt8], secret: String?) -> Result<[WebinarSummary], APIFailure> {
        classify(status: status, body: body, secret: secret) { object in
            guard let list = object["webinars"] as? [Any] else { return nil }
            var result: [WebinarSummary] = []
            // Entries without a usable webinar_id are skipped, not fatal to the list.
            for case let entry as [String: Any] in list {
                guard let id = LenientJSON.int(entry["webinar_id"]) else { continue }
                let schedules = (entry["schedules"] as? [Any] ?? []).compactMap { item -> String? in
                    if let text = LenientJSON.string(item) { return text }
                    if let object = item as? [String: Any] {
                        return LenientJSON.string(object["comment"]) ?? LenientJSON.string(object["date"])
                    }
                    return nil
                }
                result.append(webinar(entry, id: id, schedules: schedules))
            }
            return result
        }
    }

    static func webinar(status: Int, body: [UInt8], secret: String?) -> Result<WebinarDetail, APIFailure> {
        classify(status: status, body: body, secret: secret) { object in
            guard let entry = object["webinar"] as? [String: Any],
                let id = LenientJSON.int(entry["webinar_id"])
            else { return nil }
            var schedules: [ScheduleInfo] = []
            for item in entry["schedules"] as? [Any] ?? [] {
                guard let schedule = item as? [String: Any] else { continue }
                guard let scheduleID = LenientJSON.int(schedule["schedule"]) else { return nil }
                schedules.append(
                    ScheduleInfo(
                        schedule: scheduleID,
                        date: LenientJSON.string(schedule["date"]),
                        comment: LenientJSON.string(schedule["comment"])
                    )
                )
            }
            return webinar(entry, id: id, schedules: schedules)
        }
    }

    /// The fields a `webinars` entry and a `webinar` answer share, read leniently.
    private static func webinar<S>(_ entry: [String: Any], id: Int, schedules: [S]) -> Webinar<S> {
        Webinar(
            webinarID: id,
            webinarHash: LenientJSON.string(entry["webinar_hash"]),
            name: LenientJSON.string(entry["name"]),
            title: LenientJSON.string(entry["title"]),
            description: LenientJSON.string(entry["description"]),
            type: LenientJSON.string(entry["type"]),
            schedules: schedules,
            timezone: LenientJSON.string(entry["timezone"]),
            registrationURL: LenientJSON.string(entry["registration_url"])
        )
    }

    static func register(
        status: Int,
        body: [UInt8],
        secret: String?,
        sentFields: [String] = []
    ) -> Result<RegisteredUser, APIFailure> {
        classify(status: status, body: body, secret: secret, sentFields: sentFields) { object in
            guard let user = object["user"] as? [String: Any],
                let userID = LenientJSON.int(user["user_id"]),
                let live = LenientJSON.string(user["live_room_url"])
            else { return nil }
            return RegisteredUser(
                userID: userID,
                webinarID: LenientJSON.int(user["webinar_id"]),
                webinarHash: LenientJSON.string(user["webinar_hash"]),
                email: LenientJSON.string(user["email"]),
                password: LenientJSON.string(user["password"]),
                schedule: LenientJSON.int(user["schedule"]),
                date: LenientJSON.string(user["date"]),
                timezone: LenientJSON.string(user["timezone"]),
                liveRoomURL: live,
                replayRoomURL: LenientJSON.string(user["replay_room_url"]),
                thankYouURL: LenientJSON.string(user["thank_you_url"])
            )
        }
    }

    static func registrants(status: Int, body: [UInt8], secret: String?) -> Result<RegistrantsPage, APIFailure> {
        classify(status: status, body: body, secret: secret) { object in
            // Paginated shape: {"registrants": {"current_page": 1, "last_page": 3, "data": [...]}};
            // also accepted: a bare list under "registrants" or "data".
            var pageObject: [String: Any] = [:]
            let rows: [Any]
            if let paginated = object["registrants"] as? [String: Any] {
                pageObject = paginated
                rows = paginated["data"] as? [Any] ?? []
            } else if let list = object["registrants"] as? [Any] {
                rows = list
            } else if let list = object["data"] as? [Any] {
                pageObject = object
                rows = list
            } else {
                return nil
            }
            var registrants: [Registrant] = []
            for case let row as [String: Any] in rows {
                guard let email = LenientJSON.string(row["email"]) else { continue }
                let links = row["links"] as? [String: Any] ?? [:]
                registrants.append(
                    Registrant(
                        id: LenientJSON.int(row["id"]),
                        leadID: LenientJSON.int(row["lead_id"]),
                        email: email,
                        firstName: LenientJSON.string(row["first_name"]),
                        lastName: LenientJSON.string(row["last_name"]),
                        scheduleID: LenientJSON.int(row["schedule_id"]) ?? LenientJSON.int(row["schedule"]),
                        signupDate: LenientJSON.string(row["signup_date"]),
                        date: LenientJSON.string(row["date"]) ?? LenientJSON.string(row["session_date"])
                            ?? LenientJSON.string(row["event_date"]),
                        liveRoomURL: LenientJSON.string(links["live_room"])
                            ?? LenientJSON.string(row["live_room_url"]),
                        replayRoomURL: LenientJSON.string(links["replay_room"])
                            ?? LenientJSON.string(row["replay_room_url"])
                    )
                )
            }
            let next: Bool? =
                pageObject.keys.contains("next_page_url")
                ? LenientJSON.string(pageObject["next_page_url"]) != nil : nil
            return RegistrantsPage(
                currentPage: LenientJSON.int(pageObject["current_page"]) ?? 1,
                lastPage: LenientJSON.int(pageObject["last_page"]),
                hasNextPage: next,
                registrants: registrants
            )
        }
    }

    // MARK: Classification

    /// The common part: status codes, error envelopes, then `decode` on a success envelope.
    ///
    /// Every answer is judged by what it proves (SPEC "Errors"), in this order:
    ///
    /// | answer | class |
    /// | --- | --- |
    /// | 429, or any envelope whose message says too many requests / rate limit | `.rateLimited` |
    /// | `errors.api_key`, or 401 | `.unauthorized` |
    /// | 408, 425 (the vendor says it did not take the request) | `.busy` |
    /// | 5xx, 52x CDN pages, 3xx, a 2xx body that is not JSON or not decodable | `.transient` (may have reached) |
    /// | an error envelope (4xx JSON, or `"status":"error"`) with an `errors` object keyed by a field | `.rejected` |
    /// | an error envelope whose message is trouble ("try again later", "temporarily unavailable", "database error") or empty | `.busy` |
    /// | an error envelope whose message names the lead, webinar, schedule, date or a sent field | `.rejected` |
    /// | any other error answer (a 4xx HTML page, a message naming nothing) | `.unexplained` |
    ///
    /// - Parameter sentFields: the form fields of the request (custom question labels included),
    ///   so a message naming one of them counts as naming the request.
    static func classify<T>(
        status: Int,
        body: [UInt8],
        secret: String?,
        sentFields: [String] = [],
        decode: ([String: Any]) -> T?
    ) -> Result<T, APIFailure> {
        if status == 429 { return .failure(.rateLimited) }
        let object = LenientJSON.object(body)
        let message = object.flatMap(ErrorMessage.extract)
        func clean(_ text: String) -> String { ErrorMessage.clean(text, secret: secret) }

        if let object, let errors = object["errors"] as? [String: Any], let keyError = errors["api_key"] {
            let text = ErrorMessage.flatten(keyError) ?? "invalid API key"
            return .failure(.unauthorized(message: clean(text)))
        }
        if let message, Evidence.saysRateLimited(message) { return .failure(.rateLimited) }
        if object == nil, let snippet = ErrorMessage.bodySnippet(body), Evidence.saysRateLimited(snippet),
            status >= 400 || snippet.count < 200
        {
            return .failure(.rateLimited)
        }
        if let message, status == 401 || status == 403 || isErrorBody(object), Evidence.namesKey(message) {
            return .failure(.unauthorized(message: clean(message)))
        }
        if status == 401 {
            return .failure(.unauthorized(message: clean(message ?? ErrorMessage.bodySnippet(body) ?? "HTTP 401")))
        }
        if status == 408 || status == 425 {
            let detail = message ?? Evidence.pageTitle(body)
            return .failure(
                .busy(
                    httpStatus: status,
                    message: clean("HTTP \(status) from the API" + (detail.map { ": \($0)" } ?? ""))
                )
            )
        }
        if (500...599).contains(status) {
            let detail = message ?? Evidence.pageTitle(body) ?? ErrorMessage.bodySnippet(body)
            let reason = "HTTP \(status) from the API" + (detail.map { ": \($0)" } ?? "")
            return .failure(.transient(reason: clean(reason), mayHaveReachedVendor: true))
        }
        let isErrorEnvelope: Bool = {
            guard let object else { return false }
            if (400...499).contains(status) { return true }
            let field = LenientJSON.string(object["status"])?.lowercased()
            return field == "error" || field == "fail" || field == "failure"
                || (field != "success" && message != nil)
        }()
        if isErrorEnvelope, let object {
            if let field = Evidence.fieldNamed(in: object) {
                return .failure(.rejected(httpStatus: status, message: clean(message ?? "\(field): invalid")))
            }
            guard let message, !message.isEmpty else {
                return .failure(
                    .busy(
                        httpStatus: status,
                        message: "the API answered \"status\":\"error\" without a message (HTTP \(status))"
                    )
                )
            }
            if Evidence.saysTrouble(message) { return .failure(.busy(httpStatus: status, message: clean(message))) }
            if Evidence.namesRequest(message, sentFields: sentFields) {
                return .failure(.rejected(httpStatus: status, message: clean(message)))
            }
            return .failure(.unexplained(httpStatus: status, message: clean(message)))
        }
        if (400...499).contains(status) {
            // Not JSON: a proxy's or firewall's page, not the application's word on the request.
            let text = Evidence.pageTitle(body) ?? ErrorMessage.bodySnippet(body) ?? "HTTP \(status)"
            return .failure(
                .unexplained(
                    httpStatus: status,
                    message: clean(text == "HTTP \(status)" ? text : "\(text) (HTTP \(status))")
                )
            )
        }
        guard (200...299).contains(status) else {
            return .failure(
                .transient(reason: "unexpected HTTP status \(status) from the API", mayHaveReachedVendor: true)
            )
        }
        guard let object else {
            let snippet = ErrorMessage.bodySnippet(body).map { ": \($0)" } ?? ": empty body"
            return .failure(
                .transient(
                    reason: clean("unreadable answer (HTTP \(status), not JSON)\(snippet)"),
                    mayHaveReachedVendor: true
                )
            )
        }
        guard LenientJSON.string(object["status"])?.lowercased() == "success" else {
            return .failure(
                .transient(
                    reason: "unexpected answer (HTTP \(status)) without \"status\":\"success\"",
                    mayHaveReachedVendor: true
                )
            )
        }
        guard let value = decode(object) else {
            return .failure(
                .transient(
                    reason: "undecodable success answer (HTTP \(status)): required fields missing or malformed",
                    mayHaveReachedVendor: true
                )
            )
        }
        return .success(value)
    }
}

/// A JSON body whose `status` says error.
private func isErrorBody(_ object: [String: Any]?) -> Bool {
    guard let object else { return false }
    let field = LenientJSON.string(object["status"])?.lowercased()
    return field == "error" || field == "fail" || field == "failure"
}
