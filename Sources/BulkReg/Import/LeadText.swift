import Foundation

/// The text rules of a lead's fields: trimming, control characters, email, phone, country
/// code, IP address, date and timezone. Free of the API module, so the CSV fuzzer builds
/// the header mapper with them (`scripts/fuzz`).
package enum LeadText {
    /// Why a row was not queued.
    package struct Rejection: Error, Sendable, Equatable {
        package var reason: String
        package init(_ reason: String) { self.reason = reason }
    }

    // MARK: rules

    static func trim(_ s: String) -> String {
        guard let first = s.utf8.first, let last = s.utf8.last else { return s }
        if !isSpace(first) && !isSpace(last) && first < 0x80 && last < 0x80 { return s }
        return String(
            s.unicodeScalars.drop(while: \.properties.isWhitespace).reversed()
                .drop(while: \.properties.isWhitespace).reversed().map(Character.init)
        )
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
    package static func isValidEmail(_ email: String) -> Bool {
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
            let ok =
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c >= 0x80
            if !ok { return false }
            labelLength += 1
            if labelLength > 63 { return false }
        }
        return labels >= 1 && labelLength >= 2
    }

    /// Digits only: spaces, dots, dashes, slashes, parentheses and a leading `+` are removed.
    package static func normalizePhone(_ raw: String) -> Result<String, Rejection> {
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
    package static func normalizeCountryCode(_ raw: String) -> Result<String, Rejection> {
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
    package static func isValidDate(_ s: String) -> Bool {
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
    /// (`YYYY-MM-DD HH:MM`, in that zone) or at `now` (seconds since 1970); nil for an unknown
    /// zone name.
    package static func gmtOffset(ofZone name: String, at date: String?, now: Double) -> String? {
        guard name.contains("/"), let zone = TimeZone(identifier: name) else { return nil }
        var instant = Date(timeIntervalSince1970: now)
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
    package static func normalizeTimezone(_ s: String) -> String? {
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
