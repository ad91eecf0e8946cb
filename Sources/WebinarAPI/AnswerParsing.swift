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
                result.append(
                    WebinarSummary(
                        webinarID: id,
                        webinarHash: LenientJSON.string(entry["webinar_hash"]),
                        name: LenientJSON.string(entry["name"]),
                        title: LenientJSON.string(entry["title"]),
                        description: LenientJSON.string(entry["description"]),
                        type: LenientJSON.string(entry["type"]),
                        schedules: schedules,
                        timezone: LenientJSON.string(entry["timezone"])
                    )
                )
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
            return WebinarDetail(
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

/// What an error answer's words prove. Pure text rules, table-tested.
enum Evidence {
    /// The request fields the vendor's documents and help articles name; an `errors` object
    /// keyed by one of them (or by any field the request carried) is about the request.
    static let knownFields: Set<String> = [
        "webinar_id", "first_name", "last_name", "email", "schedule", "schedule_id", "phone", "phone_country_code",
        "ip_address", "timezone", "timezone_id", "date", "country", "state", "twilio_consent", "page", "search",
    ]

    /// Words that say the vendor could not do it now, whoever asked.
    static let troubleWords = [
        "try again", "temporarily", "unavailable", "database error", "internal error", "server error",
        "maintenance", "timed out", "timeout", "overloaded", "busy", "at this time", "later", "something went wrong",
        "unexpected error", "service error", "gateway",
    ]

    /// Words that say what is wrong with the lead, the webinar, the schedule or the date.
    static let subjectWords = [
        "email", "e-mail", "e mail", "first name", "last name", "name", "phone", "country code", "ip address",
        "timezone", "time zone", "date", "schedule", "session", "webinar", "event", "registrant", "attendee",
        "lead", "already registered", "consent", "country", "state",
    ]

    /// "Key … is suspended", "Invalid API key": the key itself, whatever the status.
    static func namesKey(_ text: String) -> Bool {
        let t = " " + words(text) + " "
        return t.contains(" api key ") || t.contains(" api_key ") || t.hasPrefix(" key ")
    }

    static func saysRateLimited(_ text: String) -> Bool {
        let t = text.lowercased()
        return t.contains("too many requests") || t.contains("rate limit") || t.contains("rate-limit")
            || t.contains("too many calls") || t.contains("throttl") || t.contains("too many attempts")
    }

    static func saysTrouble(_ text: String) -> Bool {
        let t = " " + words(text) + " "
        return troubleWords.contains { t.contains(" " + words($0) + " ") }
    }

    static func namesRequest(_ text: String, sentFields: [String]) -> Bool {
        let t = " " + words(text) + " "
        if subjectWords.contains(where: { t.contains(" " + words($0) + " ") }) { return true }
        for field in sentFields where field != "api_key" {
            let name = words(field.hasSuffix("[]") ? String(field.dropLast(2)) : field)
            if name.count >= 4, t.contains(" " + name + " ") { return true }
        }
        return false
    }

    /// The first key of an `errors` object that names a request field (`api_key` aside).
    static func fieldNamed(in object: [String: Any]) -> String? {
        guard let errors = object["errors"] as? [String: Any] else { return nil }
        let keys = errors.keys.filter { $0 != "api_key" }.sorted()
        return keys.first { key in
            let base = key.split(separator: ".").first.map(String.init) ?? key
            return knownFields.contains(base.lowercased())
                || !["general", "error", "message", "system"].contains(base.lowercased())
        }
    }

    /// An HTML page's `<title>` (proxy and CDN pages), trimmed.
    static func pageTitle(_ body: [UInt8]) -> String? {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        guard let open = text.range(of: "<title>", options: .caseInsensitive),
            let close = text.range(of: "</title>", options: .caseInsensitive, range: open.upperBound..<text.endIndex)
        else { return nil }
        let title = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        return title.isEmpty ? nil : String(title.prefix(120))
    }

    /// Lowercased, letters and digits only, single spaces: `First_Name:` → `first name`.
    static func words(_ text: String) -> String {
        var out = ""
        var space = true
        for scalar in text.lowercased().unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) {
                out.unicodeScalars.append(scalar)
                space = false
            } else if !space {
                out.append(" ")
                space = true
            }
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}

/// Extraction of the API's error message from its many envelope shapes.
enum ErrorMessage {
    /// `errors` (string, object of strings, object of arrays, array), then `message`, then
    /// `error`. Object keys are sorted so the text is stable: `email: msg; phone: msg`.
    static func extract(_ object: [String: Any]) -> String? {
        var parts: [String] = []
        if let errors = object["errors"], let text = flatten(errors) { parts.append(text) }
        if let message = object["message"], let text = flatten(message), !parts.contains(text) {
            if parts.isEmpty { parts.append(text) }
        }
        if parts.isEmpty, let error = object["error"], let text = flatten(error) { parts.append(text) }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Flattens one value: a string, a number, a list (`a; b`) or an object (`key: value; …`).
    static func flatten(_ value: Any) -> String? {
        if let text = LenientJSON.string(value) { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let list = value as? [Any] {
            let items = list.compactMap(flatten).filter { !$0.isEmpty }
            return items.isEmpty ? nil : items.joined(separator: "; ")
        }
        if let object = value as? [String: Any] {
            if let message = object["message"], object.count == 1 || object["code"] != nil {
                return flatten(message)
            }
            let items = object.keys.sorted().compactMap { key -> String? in
                guard let text = flatten(object[key] as Any) else { return nil }
                return "\(key): \(text)"
            }
            return items.isEmpty ? nil : items.joined(separator: "; ")
        }
        return nil
    }

    /// The start of a non-JSON body, printable characters only, for a message.
    static func bodySnippet(_ body: [UInt8]) -> String? {
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        let printable = String(
            text.unicodeScalars.map { scalar -> Character in
                scalar.properties.generalCategory == .control ? " " : Character(scalar)
            }
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        return printable.isEmpty ? nil : printable
    }

    /// Caps the length and removes the API key should the vendor ever echo it.
    static func clean(_ text: String, secret: String?) -> String {
        var result = text
        if let secret, !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
            let encoded = FormEncoding.encode(secret)
            if encoded != secret { result = result.replacingOccurrences(of: encoded, with: "[redacted]") }
        }
        if result.count > AnswerParser.maxMessageLength {
            result = String(result.prefix(AnswerParser.maxMessageLength)) + "…"
        }
        return result
    }
}

/// Tolerant accessors over `JSONSerialization` values.
enum LenientJSON {
    /// The top-level object of a JSON body, or nil when the body is not a JSON object.
    static func object(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// An integer from an int, an integral double or a numeric string (`"55"`, `" 55 "`).
    static func int(_ value: Any?) -> Int? {
        switch value {
        case let text as String:
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let number = Int(trimmed) { return number }
            if let number = Double(trimmed), number.rounded() == number, abs(number) < 1e15 { return Int(number) }
            return nil
        case let number as NSNumber:
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 1e15 else { return nil }
            return number.intValue
        default:
            return nil
        }
    }

    /// A non-empty string; numbers are rendered (`1234567890`), `null` and `""` are nil.
    static func string(_ value: Any?) -> String? {
        switch value {
        case let text as String:
            return text.isEmpty ? nil : text
        case let number as NSNumber:
            let double = number.doubleValue
            if double.rounded() == double, abs(double) < 1e15 { return String(number.int64Value) }
            return "\(double)"
        default:
            return nil
        }
    }
}
