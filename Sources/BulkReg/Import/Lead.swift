import Foundation
import WebinarAPI

/// Where leads of an import go unless a row says otherwise (`--platform --webinar --schedule
/// --date --timezone`).
package struct ImportDefaults: Sendable, Equatable {
    package var platform: Platform
    package var webinarID: Int?
    package var schedule: Int?
    package var date: String?
    package var timezone: String?

    package init(
        platform: Platform = .webinarjam,
        webinarID: Int? = nil,
        schedule: Int? = nil,
        date: String? = nil,
        timezone: String? = nil
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.schedule = schedule
        self.date = date
        self.timezone = timezone
    }
}

/// A validated, normalized lead, ready to queue.
package struct Lead: Sendable, Equatable {
    package var platform: Platform
    package var webinarID: Int
    package var schedule: Int
    package var date: String?
    package var timezone: String?
    package var firstName: String
    package var lastName: String?
    package var email: String
    package var phoneCountryCode: String?
    package var phone: String?
    package var ipAddress: String?
    package var extras: [(String, String)]
    /// What was left out of the request, and why (`phone contains letters: left out`).
    package var warnings: [String] = []

    /// The register request of this lead (a multi-valued field's values as repeated pairs).
    package var request: RegistrationRequest {
        var single: [String: String] = [:]
        var lists: [String: [String]] = [:]
        for (name, value) in extras {
            if FieldRules.isMultiValued(name) { lists[name, default: []].append(value) } else { single[name] = value }
        }
        return RegistrationRequest(
            platform: platform,
            webinarID: webinarID,
            schedule: schedule,
            firstName: firstName,
            lastName: lastName,
            email: email,
            phoneCountryCode: phoneCountryCode,
            phone: phone,
            ipAddress: ipAddress,
            timezone: timezone,
            date: date,
            extraFields: single,
            multiFields: lists
        )
    }

    package static func == (lhs: Lead, rhs: Lead) -> Bool {
        lhs.platform == rhs.platform && lhs.webinarID == rhs.webinarID && lhs.schedule == rhs.schedule
            && lhs.date == rhs.date && lhs.timezone == rhs.timezone && lhs.firstName == rhs.firstName
            && lhs.lastName == rhs.lastName && lhs.email == rhs.email
            && lhs.phoneCountryCode == rhs.phoneCountryCode && lhs.phone == rhs.phone
            && lhs.ipAddress == rhs.ipAddress && lhs.extras.map(\.0) == rhs.extras.map(\.0)
            && lhs.extras.map(\.1) == rhs.extras.map(\.1)
    }
}

/// Turns one CSV row into a `Lead`, or the reason it cannot be one.
///
/// Rules: whitespace trimmed; first name and a syntactically valid email required; phone
/// split and reduced to digits (`Phone`: extensions dropped, a calling code written in the
/// number taken as the country code); a phone or country code that cannot be read is left
/// out with a warning; country code normalised to `+N`; EverWebinar timezone `GMT±H[:MM]` and date
/// `YYYY-MM-DD HH:MM` checked; webinar and schedule must be positive integers; an IP address
/// must be IPv4 or IPv6; names and extra fields must not hold control characters; SMS
/// consent normalised to `true`/`false` (a mapped column's empty cell: `false`) and
/// `timezone_id` a number, anything else rejecting the row; a multi-valued field (`NAME[]`)
/// split into its values; `--value` translations applied to each value, `--set` constants
/// added (``FieldRules``).
struct LeadValidator: Sendable {
    /// Why a row was not queued.
    typealias Rejection = LeadText.Rejection

    let map: FieldMap
    let defaults: ImportDefaults
    /// When the file was imported (seconds since 1970): a zone name without a session date is
    /// converted to the offset in force then, so a stored row reads the same at any later time.
    let importedAt: Double

    /// The lead, or a short reason naming the field (never its value: it may be personal data).
    func validate(_ row: [String]) -> Result<Lead, Rejection> {
        // Among a field's candidate columns, the first non-empty cell gives the value.
        func value(_ field: LeadField) -> String? {
            for index in map.columns(of: field) where index < row.count {
                let trimmed = LeadText.trim(row[index])
                if !trimmed.isEmpty { return trimmed }
            }
            return nil
        }
        var first = value(.firstName)
        var last = value(.lastName)
        if first == nil, let full = value(.fullName) {
            let parts = full.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            first = parts.first.map(String.init)
            if last == nil, parts.count > 1 { last = LeadText.trim(String(parts[1])) }
        }
        guard let firstName = first else { return .failure(.init("missing first name")) }
        if LeadText.hasControlCharacter(firstName) { return .failure(.init("first name contains a control character")) }
        if let last, LeadText.hasControlCharacter(last) {
            return .failure(.init("last name contains a control character"))
        }
        guard let email = value(.email) else { return .failure(.init("missing email")) }
        guard LeadText.isValidEmail(email) else { return .failure(.init("invalid email")) }

        // The phone is optional for the API unless a webinar's settings require it (then the
        // vendor says so, and the lead fails with its words): one that cannot be read is left
        // out of the request, with a warning, instead of rejecting the lead.
        var warnings: [String] = []
        var countryCode: String?
        let rules = map.rules
        if let raw = value(.phoneCountryCode) ?? rules.constant(.phoneCountryCode)?.first {
            switch LeadText.normalizeCountryCode(raw) {
            case .success(let code): countryCode = code
            case .failure(let reason): warnings.append(reason.reason + ": left out")
            }
        }
        var phone: String?
        if let raw = value(.phone) {
            switch Phone.parse(raw, countryCode: countryCode) {
            case .success(let parsed):
                phone = parsed.digits
                if let code = parsed.code { countryCode = code }
            case .failure(let reason): warnings.append(reason.reason + ": left out")
            }
        }

        let platform: Platform
        if let raw = value(.platform) {
            guard let p = Platform(rawValue: raw.lowercased()) else {
                return .failure(.init("invalid platform (webinarjam or everwebinar)"))
            }
            platform = p
        } else {
            platform = defaults.platform
        }
        // A positive id from its column, else from the flag that gives every row one.
        func id(_ field: LeadField, _ name: String, flag: String, default fallback: Int?) -> Result<Int, Rejection> {
            if let raw = value(field) {
                guard let id = Int(raw), id > 0 else { return .failure(.init("invalid \(name)")) }
                return .success(id)
            }
            guard let fallback else { return .failure(.init("missing \(name) (no \(flag) and no \(name) column)")) }
            return .success(fallback)
        }
        let webinarID: Int
        let schedule: Int
        do throws(Rejection) {
            webinarID = try id(.webinarID, "webinar_id", flag: "--webinar", default: defaults.webinarID).get()
            schedule = try id(.schedule, "schedule", flag: "--schedule", default: defaults.schedule).get()
        } catch {
            return .failure(error)
        }
        var date = value(.date) ?? defaults.date
        var timezone = value(.timezone) ?? defaults.timezone
        if platform == .everwebinar {
            if let d = date, !LeadText.isValidDate(d) {
                return .failure(.init("invalid date (expected YYYY-MM-DD HH:MM)"))
            }
            if let tz = timezone {
                // Exports (Mailchimp's TIMEZONE) carry IANA names: converted to the GMT offset
                // in force at the session date (or now), which is what EverWebinar takes.
                guard
                    let normalized = LeadText.normalizeTimezone(tz)
                        ?? LeadText.gmtOffset(ofZone: tz, at: date, now: importedAt)
                else {
                    return .failure(
                        .init("invalid timezone (expected GMT-5, GMT+4:30 or a zone like America/New_York)")
                    )
                }
                timezone = normalized
            }
        } else {
            date = nil
            timezone = nil
        }
        let ipAddress = value(.ipAddress)
        if let ipAddress, !LeadText.isValidIPAddress(ipAddress) {
            return .failure(.init("invalid IP address (expected IPv4 like 203.0.113.7 or IPv6)"))
        }
        // Fields some webinars require: from a column (translated, then normalised), else
        // from --set; a mapped consent column's empty cell is a "false".
        var extras: [(String, String)] = []
        for field in FieldRules.translatable {
            guard !map.columns(of: field).isEmpty else {
                if let constant = rules.constant(field) { extras.append((field.rawValue, constant[0])) }
                continue
            }
            let cell = value(field) ?? ""
            if cell.isEmpty && field != .smsConsent { continue }
            if LeadText.hasControlCharacter(cell) {
                return .failure(.init("\(field.label) contains a control character"))
            }
            switch FieldRules.normalize(rules.translate(cell, key: field.rawValue), for: field) {
            case .success(let normalized): extras.append((field.rawValue, normalized))
            case .failure(let rejection):
                return .failure(.init(rejection.reason + " (--value translates other texts)"))
            }
        }
        for (name, column) in map.extras where column < row.count {
            let v = LeadText.trim(row[column])
            if LeadText.hasControlCharacter(v) { return .failure(.init("\(name) contains a control character")) }
            if v.isEmpty { continue }
            let key = FieldRules.key(name)
            if FieldRules.isMultiValued(name) {
                for part in FieldRules.split(v) { extras.append((name, rules.translate(part, key: key))) }
            } else {
                extras.append((name, rules.translate(v, key: key)))
            }
        }
        for constant in rules.extraConstants {
            for v in constant.values { extras.append((constant.name, v)) }
        }
        return .success(
            Lead(
                platform: platform,
                webinarID: webinarID,
                schedule: schedule,
                date: date,
                timezone: timezone,
                firstName: firstName,
                lastName: last,
                email: email,
                phoneCountryCode: countryCode,
                phone: phone,
                ipAddress: ipAddress,
                extras: extras,
                warnings: warnings
            )
        )
    }
}
