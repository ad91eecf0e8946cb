/// Phone numbers as CRMs write them, turned into what the vendor takes: `phone_country_code`
/// (`+N`) and `phone` (digits only).
///
/// - an extension (`ext. 12`, `extension 12`, `x12`, `#12`) is dropped: a webinar cannot ring it;
/// - a number written with its calling code (`+44 20 7946 0958`, `0044 20 7946 0958`,
///   `+44 (0)20 7946 0958`) is split by the ITU calling-code table (E.164 codes are
///   prefix-free, 1 to 3 digits), and that code wins over a country-code column;
/// - beside a country-code column, a number of 12 digits or more (11 for +1) that starts with
///   that same code loses it (`44 20 7946 0958` with `+44`): it was written twice. Shorter
///   numbers are left alone (an Italian mobile `391 234 5678`, a Brazilian mobile in area 55).
enum Phone {
    struct Parsed: Equatable {
        /// `+44`, when the number carried its calling code.
        var code: String?
        /// The national number, digits only.
        var digits: String
    }

    /// `raw` split and reduced to digits; `countryCode` is the row's country code (`+N`), if any.
    /// (Runs for every row of a million-row import: the slow steps only when a byte needs them.)
    static func parse(_ raw: String, countryCode: String?) -> Result<Parsed, LeadText.Rejection> {
        var mayHaveExtension = false
        var hasTrunk = false
        var copy = raw
        copy.withUTF8 { b in
            var i = 0
            while i < b.count {
                let c = b[i]
                let lower = c | 0x20
                if (lower >= 0x61 && lower <= 0x7A) || c == 0x23 || c >= 0x80 { mayHaveExtension = true }
                if c == 0x28, i + 2 < b.count, b[i + 1] == 0x30, b[i + 2] == 0x29 { hasTrunk = true }
                i += 1
            }
        }
        var text = raw
        if mayHaveExtension { text = withoutExtension(text) }
        // `+44 (0)20 …`: the national trunk prefix in parentheses is not dialled from abroad.
        if hasTrunk { text = text.replacingOccurrences(of: "(0)", with: "") }
        let trimmed = LeadText.trim(text)
        var prefix = 0  // digits of an international prefix to drop: `00`
        var international = false
        var body = trimmed
        if trimmed.utf8.first == UInt8(ascii: "+") {
            international = true  // normalizePhone takes a leading `+`
        } else if trimmed.utf8.starts(with: "00".utf8) {
            international = true
            prefix = 2
        } else if trimmed.utf8.starts(with: "(+".utf8) {
            international = true
            var rest = Substring(trimmed).dropFirst(2)
            if let close = rest.firstIndex(of: ")") { rest.remove(at: close) }
            body = String(rest)
        }
        var digits: String
        switch LeadText.normalizePhone(body) {
        case .success(let d): digits = d
        case .failure(let reason): return .failure(reason)
        }
        if prefix > 0 { digits = String(digits.dropFirst(prefix)) }
        if international {
            guard let code = callingCode(of: digits) else {
                return .failure(.init("phone starts with an unknown calling code"))
            }
            let national = String(digits.dropFirst(code.count))
            guard national.count >= 4 else { return .failure(.init("phone is too short after its calling code")) }
            return .success(Parsed(code: "+" + code, digits: national))
        }
        if let countryCode {
            let code = countryCode.drop(while: { $0 == "+" })
            // 12 digits or more (no national number is that long), or 11 for NANP (+1: a
            // national number never starts with 1); a Brazilian mobile in area 55 (11 digits)
            // or a German number without its trunk 0 is left alone.
            if !code.isEmpty, digits.hasPrefix(code), digits.count >= 12 || (code == "1" && digits.count == 11) {
                return .success(Parsed(code: nil, digits: String(digits.dropFirst(code.count))))
            }
        }
        return .success(Parsed(code: nil, digits: digits))
    }

    /// `555-699-7424 ext. 12` → `555-699-7424`; `… x12`, `… #12`, `… extension 12` alike.
    static func withoutExtension(_ raw: String) -> String {
        let scalars = Array(raw.unicodeScalars)
        var end = scalars.count
        while end > 0, scalars[end - 1].properties.isWhitespace { end -= 1 }
        var i = end
        while i > 0, ("0"..."9").contains(scalars[i - 1]) { i -= 1 }
        guard i < end else { return raw }  // no trailing digits
        var j = i
        while j > 0, scalars[j - 1] == " " || scalars[j - 1] == "." || scalars[j - 1] == ":" { j -= 1 }
        let before = String(String.UnicodeScalarView(scalars[..<j])).lowercased()
        for marker in ["extension", "ext", "x", "#"] where before.hasSuffix(marker) {
            let head = before.dropLast(marker.count)
            // `x12` right after digits, or after a space or comma: an extension; a letter
            // before it (`fax12`) is not ours to guess.
            if let last = head.last, last.isLetter { continue }
            guard head.contains(where: \.isNumber) else { continue }
            var cut = j - marker.unicodeScalars.count
            while cut > 0, scalars[cut - 1] == " " || scalars[cut - 1] == "," || scalars[cut - 1] == ";" { cut -= 1 }
            return String(String.UnicodeScalarView(scalars[..<cut]))
        }
        return raw
    }

    /// The calling code `digits` start with (E.164, ITU-T list), or nil for an unassigned one.
    static func callingCode(of digits: String) -> String? {
        let d = Array(digits.utf8.prefix(3)).map { Int($0) - 48 }
        guard let first = d.first else { return nil }
        if first == 1 || first == 7 { return String(first) }
        guard d.count >= 2 else { return nil }
        let two = d[0] * 10 + d[1]
        if twoDigitCodes.contains(two) { return String(two) }
        guard d.count >= 3 else { return nil }
        let three = two * 10 + d[2]
        return threeDigitCodes.contains(three) ? String(three) : nil
    }

    static let twoDigitCodes: Set<Int> = [
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58,
        60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ]

    static let threeDigitCodes: Set<Int> = {
        var codes: Set<Int> = [
            211, 212, 213, 216, 218, 290, 291, 297, 298, 299, 420, 421, 423, 670, 800, 808, 850,
            852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 979, 383, 385, 386, 387, 389,
        ]
        codes.formUnion(220...258)
        codes.formUnion(260...269)
        codes.formUnion(350...359)
        codes.formUnion(370...382)
        codes.formUnion(500...509)
        codes.formUnion(590...599)
        codes.formUnion(672...683)
        codes.formUnion(685...692)
        codes.formUnion(960...968)
        codes.formUnion(970...977)
        codes.formUnion(992...998)
        return codes
    }()
}
