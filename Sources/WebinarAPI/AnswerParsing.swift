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
                    ))
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
                    ))
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

    static func register(status: Int, body: [UInt8], secret: String?) -> Result<RegisteredUser, APIFailure> {
        classify(status: status, body: body, secret: secret) { object in
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
                        liveRoomURL: LenientJSON.string(links["live_room"])
                            ?? LenientJSON.string(row["live_room_url"]),
                        replayRoomURL: LenientJSON.string(links["replay_room"])
                            ?? LenientJSON.string(row["replay_room_url"])
                    ))
            }
            return RegistrantsPage(
                currentPage: LenientJSON.int(pageObject["current_page"]) ?? 1,
                lastPage: LenientJSON.int(pageObject["last_page"]),
                registrants: registrants
            )
        }
    }

    // MARK: Classification

    /// The common part: status codes, error envelopes, then `decode` on a success envelope.
    static func classify<T>(
        status: Int, body: [UInt8], secret: String?, decode: ([String: Any]) -> T?
    ) -> Result<T, APIFailure> {
        if status == 429 { return .failure(.rateLimited) }
        let object = LenientJSON.object(body)

        if let object, let errors = object["errors"] as? [String: Any], let keyError = errors["api_key"] {
            let text = ErrorMessage.flatten(keyError) ?? "invalid API key"
            return .failure(.unauthorized(message: ErrorMessage.clean(text, secret: secret)))
        }
        if status == 401 || status == 403 {
            let text = object.flatMap(ErrorMessage.extract) ?? ErrorMessage.bodySnippet(body) ?? "HTTP \(status)"
            return .failure(.unauthorized(message: ErrorMessage.clean(text, secret: secret)))
        }
        if (500...599).contains(status) {
            let detail = object.flatMap(ErrorMessage.extract) ?? ErrorMessage.bodySnippet(body)
            let reason = "HTTP \(status) from the API" + (detail.map { ": \($0)" } ?? "")
            return .failure(.transient(reason: ErrorMessage.clean(reason, secret: secret), mayHaveReachedVendor: true))
        }
        if (400...499).contains(status) {
            let text = object.flatMap(ErrorMessage.extract) ?? ErrorMessage.bodySnippet(body) ?? "HTTP \(status)"
            return .failure(.rejected(httpStatus: status, message: ErrorMessage.clean(text, secret: secret)))
        }
        guard (200...299).contains(status) else {
            return .failure(
                .transient(reason: "unexpected HTTP status \(status) from the API", mayHaveReachedVendor: true))
        }
        guard let object else {
            let snippet = ErrorMessage.bodySnippet(body).map { ": \($0)" } ?? ": empty body"
            return .failure(
                .transient(
                    reason: ErrorMessage.clean("unreadable answer (HTTP \(status), not JSON)\(snippet)", secret: secret),
                    mayHaveReachedVendor: true))
        }
        let statusField = LenientJSON.string(object["status"])?.lowercased()
        if statusField == "error" || statusField == "fail" || statusField == "failure" {
            let text = ErrorMessage.extract(object) ?? "the API answered \"status\":\"error\" without a message"
            return .failure(.rejected(httpStatus: status, message: ErrorMessage.clean(text, secret: secret)))
        }
        guard statusField == "success" else {
            if let text = ErrorMessage.extract(object) {
                return .failure(.rejected(httpStatus: status, message: ErrorMessage.clean(text, secret: secret)))
            }
            return .failure(
                .transient(
                    reason: "unexpected answer (HTTP \(status)) without \"status\":\"success\"",
                    mayHaveReachedVendor: true))
        }
        guard let value = decode(object) else {
            return .failure(
                .transient(
                    reason: "undecodable success answer (HTTP \(status)): required fields missing or malformed",
                    mayHaveReachedVendor: true))
        }
        return .success(value)
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
            })
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
