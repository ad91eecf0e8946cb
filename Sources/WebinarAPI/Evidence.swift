import Foundation

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
