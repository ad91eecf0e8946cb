import Foundation
import WebinarAPI

/// Where leads of an import go unless a row says otherwise (`--platform --webinar --schedule
/// --date --timezone`).
public struct ImportDefaults: Sendable, Equatable {
    public var platform: Platform
    public var webinarID: Int?
    public var schedule: Int?
    public var date: String?
    public var timezone: String?

    public init(
        platform: Platform = .webinarjam, webinarID: Int? = nil, schedule: Int? = nil,
        date: String? = nil, timezone: String? = nil
    ) {
        self.platform = platform
        self.webinarID = webinarID
        self.schedule = schedule
        self.date = date
        self.timezone = timezone
    }
}

/// A validated, normalized lead, ready to queue.
public struct Lead: Sendable, Equatable {
    public var platform: Platform
    public var webinarID: Int
    public var schedule: Int
    public var date: String?
    public var timezone: String?
    public var firstName: String
    public var lastName: String?
    public var email: String
    public var phoneCountryCode: String?
    public var phone: String?
    public var ipAddress: String?
    public var extras: [(String, String)]
    /// What was left out of the request, and why (`phone contains letters: left out`).
    public var warnings: [String] = []

    public static func == (lhs: Lead, rhs: Lead) -> Bool {
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
public struct LeadValidator: Sendable {
    public let map: FieldMap
    public let defaults: ImportDefaults

    public init(map: FieldMap, defaults: ImportDefaults) {
        self.map = map
        self.defaults = defaults
    }

    /// The lead, or a short reason naming the field (never its value: it may be personal data).
    public func validate(_ row: [String]) -> Result<Lead, Rejection> {
        // Among a field's candidate columns, the first non-empty cell gives the value.
        func value(_ field: LeadField) -> String? {
            for index in map.columns(of: field) where index < row.count {
                let trimmed = Self.trim(row[index])
                if !trimmed.isEmpty { return trimmed }
            }
            return nil
        }
        var first = value(.firstName)
        var last = value(.lastName)
        if first == nil, let full = value(.fullName) {
            let parts = full.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            first = parts.first.map(String.init)
            if last == nil, parts.count > 1 { last = Self.trim(String(parts[1])) }
        }
        guard let firstName = first else { return .failure(.init("missing first name")) }
        if Self.hasControlCharacter(firstName) { return .failure(.init("first name contains a control character")) }
        if let last, Self.hasControlCharacter(last) { return .failure(.init("last name contains a control character")) }
        guard let email = value(.email) else { return .failure(.init("missing email")) }
        guard Self.isValidEmail(email) else { return .failure(.init("invalid email")) }

        // The phone is optional for the API unless a webinar's settings require it (then the
        // vendor says so, and the lead fails with its words): one that cannot be read is left
        // out of the request, with a warning, instead of rejecting the lead.
        var warnings: [String] = []
        var countryCode: String?
        let rules = map.rules
        if let raw = value(.phoneCountryCode) ?? rules.constant(.phoneCountryCode)?.first {
            switch Self.normalizeCountryCode(raw) {
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
        let webinarID: Int
        if let raw = value(.webinarID) {
            guard let id = Int(raw), id > 0 else { return .failure(.init("invalid webinar_id")) }
            webinarID = id
        } else if let id = defaults.webinarID {
            webinarID = id
        } else {
            return .failure(.init("missing webinar_id (no --webinar and no webinar_id column)"))
        }
        let schedule: Int
        if let raw = value(.schedule) {
            guard let id = Int(raw), id > 0 else { return .failure(.init("invalid schedule")) }
            schedule = id
        } else if let id = defaults.schedule {
            schedule = id
        } else {
            return .failure(.init("missing schedule (no --schedule and no schedule column)"))
        }
        var date = value(.date) ?? defaults.date
        var timezone = value(.timezone) ?? defaults.timezone
        if platform == .everwebinar {
            if let d = date, !Self.isValidDate(d) {
                return .failure(.init("invalid date (expected YYYY-MM-DD HH:MM)"))
            }
            if let tz = timezone {
                // Exports (Mailchimp's TIMEZONE) carry IANA names: converted to the GMT offset
                // in force at the session date (or now), which is what EverWebinar takes.
                guard let normalized = Self.normalizeTimezone(tz) ?? Self.gmtOffset(ofZone: tz, at: date) else {
                    return .failure(.init("invalid timezone (expected GMT-5, GMT+4:30 or a zone like America/New_York)"))
                }
                timezone = normalized
            }
        } else {
            date = nil
            timezone = nil
        }
        let ipAddress = value(.ipAddress)
        if let ipAddress, !Self.isValidIPAddress(ipAddress) {
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
            if Self.hasControlCharacter(cell) { return .failure(.init("\(field.label) contains a control character")) }
            switch FieldRules.normalize(rules.translate(cell, key: field.rawValue), for: field) {
            case .success(let normalized): extras.append((field.rawValue, normalized))
            case .failure(let rejection):
                return .failure(.init(rejection.reason + " (--value translates other texts)"))
            }
        }
        for (name, column) in map.extras where column < row.count {
            let v = Self.trim(row[column])
            if Self.hasControlCharacter(v) { return .failure(.init("\(name) contains a control character")) }
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
                platform: platform, webinarID: webinarID, schedule: schedule, date: date,
                timezone: timezone, firstName: firstName, lastName: last, email: email,
                phoneCountryCode: countryCode, phone: phone, ipAddress: ipAddress,
                extras: extras, warnings: warnings))
    }

    /// Why a row was not queued.
    public struct Rejection: Error, Sendable, Equatable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    // MARK: rules

    static func trim(_ s: String) -> String {
        guard let first = s.utf8.first, let last = s.utf8.last else { return s }
        if !isSpace(first) && !isSpace(last) && first < 0x80 && last < 0x80 { return s }
        return String(s.unicodeScalars.drop(while: \.properties.isWhitespace).reversed()
            .drop(while: \.properties.isWhitespace).reversed().map(Character.init))
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// An IPv4 address in dotted-quad form or an IPv6 address (`inet_pton`'s grammar).
    static func isValidIPAddress(_ s: String) -> Bool {
        var buffer = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &buffer) { out in
            inet_pton(AF_INET, s, out.baseAddress) == 1 || inet_pton(AF_INET6, s, out.baseAddress) == 1
        }
    }

    /// Whether `s` holds a C0 control other than tab, LF and CR (a cell with Alt+Enter keeps
    /// its line break), DEL, or a C1 control (U+0080–U+009F, what a Windows-1252 file read
    /// as Latin-1 leaves behind): never part of a name, and not for the vendor's database.
    static func hasControlCharacter(_ s: String) -> Bool {
        var copy = s
        return copy.withUTF8 { b in
            var i = 0
            while i < b.count {
                let c = b[i]
                if c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D { return true }
                if c == 0x7F { return true }
                if c == 0xC2 && i + 1 < b.count && b[i + 1] >= 0x80 && b[i + 1] <= 0x9F { return true }
                i += 1
            }
            return false
        }
    }

    /// A pragmatic syntax check: one `@`, a non-empty local part without spaces, and a domain
    /// of dot-separated labels (letters, digits, hyphens; internationalized letters allowed)
    /// of at most 63 bytes each, with a top-level label of two or more characters.
    public static func isValidEmail(_ email: String) -> Bool {
        var copy = email
        return copy.withUTF8 { isValidEmail(bytes: $0) }
    }

    static func isValidEmail(bytes b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        guard n <= 254 else { return false }
        var at = -1
        for i in stride(from: n - 1, through: 0, by: -1) where b[i] == UInt8(ascii: "@") {
            at = i
            break
        }
        guard at > 0, at <= 64, at < n - 1 else { return false }
        for i in 0..<at {
            switch b[i] {
            case 0...0x20, 0x7F, UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "<"),
                UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["),
                UInt8(ascii: "]"), UInt8(ascii: "\\"):
                return false
            default: continue
            }
        }
        if b[0] == UInt8(ascii: ".") || b[at - 1] == UInt8(ascii: ".") { return false }
        var labels = 0
        var labelLength = 0
        for i in (at + 1)..<n {
            let c = b[i]
            if c == UInt8(ascii: ".") {
                if labelLength == 0 { return false }
                labels += 1
                labelLength = 0
                continue
            }
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c >= 0x80
            if !ok { return false }
            labelLength += 1
            if labelLength > 63 { return false }
        }
        return labels >= 1 && labelLength >= 2
    }

    /// Digits only: spaces, dots, dashes, slashes, parentheses and a leading `+` are removed.
    public static func normalizePhone(_ raw: String) -> Result<String, Rejection> {
        var copy = raw
        return copy.withUTF8 { b -> Result<String, Rejection> in
            var digits = [UInt8]()
            digits.reserveCapacity(b.count)
            var i = 0
            while i < b.count {
                let c = b[i]
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(c)
                case UInt8(ascii: " "), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"),
                    UInt8(ascii: "/"), UInt8(ascii: "\t"):
                    break
                case UInt8(ascii: "+") where i == 0: break
                case 0xC2 where i + 1 < b.count && b[i + 1] == 0xA0:  // no-break space
                    i += 1
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    return .failure(.init("phone contains letters"))
                default:
                    if c >= 0x80 {
                        // Decode the scalar to tell letters (any script) from other symbols.
                        let rest = String(decoding: UnsafeBufferPointer(rebasing: b[i...]), as: UTF8.self)
                        if let scalar = rest.unicodeScalars.first, scalar.properties.isAlphabetic {
                            return .failure(.init("phone contains letters"))
                        }
                    }
                    return .failure(.init("phone contains invalid characters"))
                }
                i += 1
            }
            if digits.isEmpty { return .failure(.init("phone has no digits")) }
            if digits.count > 15 { return .failure(.init("phone has more than 15 digits")) }
            return .success(String(decoding: digits, as: UTF8.self))
        }
    }

    /// `1`, `+1`, `001`, `(+44)`, `+1-268` → `+1`, `+1`, `+1`, `+44`, `+1268`.
    public static func normalizeCountryCode(_ raw: String) -> Result<String, Rejection> {
        var digits = ""
        for scalar in raw.unicodeScalars {
            switch scalar {
            case "0"..."9": digits.unicodeScalars.append(scalar)
            case " ", "+", "(", ")", "-", ".": continue
            default: return .failure(.init("invalid phone country code (expected +N)"))
            }
        }
        if digits.hasPrefix("00") { digits.removeFirst(2) }
        guard (1...4).contains(digits.count), digits.first != "0" else {
            return .failure(.init("invalid phone country code (expected +N)"))
        }
        return .success("+" + digits)
    }

    /// `YYYY-MM-DD HH:MM` with real ranges.
    public static func isValidDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 16, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            b[10] == UInt8(ascii: " "), b[13] == UInt8(ascii: ":")
        else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16)
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return year >= 2000 && (1...12).contains(month) && day >= 1 && day <= days[month - 1]
            && hour < 24 && minute < 60
    }

    /// `America/New_York` → `GMT-5` (or `GMT-4` in summer): the zone's offset at `date`
    /// (`YYYY-MM-DD HH:MM`, in that zone) or now; nil for an unknown zone name.
    public static func gmtOffset(ofZone name: String, at date: String?) -> String? {
        guard name.contains("/"), let zone = TimeZone(identifier: name) else { return nil }
        var instant = Date()
        if let date {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = zone
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            if let parsed = formatter.date(from: date) { instant = parsed }
        }
        let seconds = zone.secondsFromGMT(for: instant)
        let sign = seconds < 0 ? "-" : "+"
        let hours = abs(seconds) / 3600
        let minutes = (abs(seconds) % 3600) / 60
        return "GMT\(sign)\(hours)" + (minutes == 0 ? "" : ":\(minutes < 10 ? "0" : "")\(minutes)")
    }

    /// `GMT-5`, `gmt+4:30`, `GMT+05:45`, `GMT` → canonical `GMT-5`, `GMT+4:30`, `GMT+5:45`,
    /// `GMT+0`; nil when not of that shape.
    public static func normalizeTimezone(_ s: String) -> String? {
        let upper = s.uppercased()
        guard upper.hasPrefix("GMT") || upper.hasPrefix("UTC") else { return nil }
        let rest = upper.dropFirst(3)
        if rest.isEmpty { return "GMT+0" }
        guard let sign = rest.first, sign == "+" || sign == "-" else { return nil }
        let parts = rest.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let hours = Int(parts[0]),
            parts[0].count <= 2, (0...14).contains(hours)
        else { return nil }
        var out = "GMT\(sign)\(hours)"
        if parts.count == 2 {
            guard parts[1].count == 2, let minutes = Int(parts[1]), [0, 15, 30, 45].contains(minutes)
            else { return nil }
            if minutes != 0 { out += ":\(parts[1])" }
        }
        return out
    }
}
