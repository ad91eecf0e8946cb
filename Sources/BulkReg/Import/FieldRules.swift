/// `--set FIELD=VALUE` (one value for every row) and `--value FIELD:TEXT=VALUE` (a cell's text
/// translated to what the vendor expects, such as a dropdown's option id), resolved once
/// against an import's fields.
///
/// A rule names its field as `--map` does: a standard field by its name or an alias
/// (`twilio_consent`, `SMS opt-in`, `country`), or an extra field by its name as sent (a
/// custom question's label, with or without its `[]`). Texts match trimmed and without regard
/// to case; each value of a multi-value is translated on its own. Consent values, set or
/// translated, are normalised like cells (`yes` → `true`).
package struct FieldRules: Sendable, Equatable {
    /// A value for every row.
    package struct Constant: Sendable, Equatable {
        /// The field as sent: a standard field's name (`country`) or an extra field's.
        package var name: String
        /// One value, or the values of a multi-valued field (`Interests[]`).
        package var values: [String]
    }

    /// One `--value`: in field `field` (as sent), `text` becomes `value`.
    package struct Translation: Sendable, Equatable {
        package var field: String
        package var text: String
        package var value: String
    }

    /// The `--set` constants, in the order given.
    package private(set) var constants: [Constant] = []
    /// The `--value` translations, in the order given.
    package private(set) var translations: [Translation] = []
    /// Field key → folded text → value.
    private var table: [String: [String: String]] = [:]

    package static func == (lhs: FieldRules, rhs: FieldRules) -> Bool {
        lhs.constants == rhs.constants && lhs.translations == rhs.translations
    }

    package init() {}

    /// Standard fields `--set` may give every row.
    static let settable: [LeadField] = [.phoneCountryCode, .country, .state, .smsConsent, .timezoneID]
    /// Standard fields whose cell text `--value` may translate.
    static let translatable: [LeadField] = [.country, .state, .smsConsent, .timezoneID]

    /// Resolves `sets` (`FIELD=VALUE`) and `values` (`FIELD:TEXT=VALUE`) against `map`.
    /// - Throws: `BulkRegError(.usage)` naming the option: an unknown or unmappable field, a
    ///   field a column already gives, an empty or invalid value, two values for one text.
    init(sets: [String], values: [String], map: FieldMap, header: [String]) throws {
        for item in sets {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw BulkRegError(.usage, "--set \(item): expected FIELD=VALUE, e.g. --set twilio_consent=true")
            }
            let given = String(item[..<eq])
            let raw = LeadText.trim(String(item[item.index(after: eq)...]))
            let name = try Self.constantField(given, item: item, map: map, header: header)
            if constants.contains(where: { Self.key($0.name) == Self.key(name) }) {
                throw BulkRegError(.usage, "--set \(item): \(name) is set twice")
            }
            guard !raw.isEmpty else {
                throw BulkRegError(.usage, "--set \(item): the value is empty (leave the --set out to send nothing)")
            }
            guard !LeadText.hasControlCharacter(raw) else {
                throw BulkRegError(.usage, "--set \(item): the value contains a control character")
            }
            var parts = Self.isMultiValued(name) ? Self.split(raw) : [raw]
            if let field = LeadField(rawValue: name) {
                parts = try parts.map { value in
                    switch Self.normalize(value, for: field) {
                    case .success(let normalized): return normalized
                    case .failure(let rejection): throw BulkRegError(.usage, "--set \(item): \(rejection.reason)")
                    }
                }
            }
            append(Constant(name: name, values: parts))
        }
        for item in values {
            guard let (name, rest) = Self.splitField(item, map: map) else {
                let fields = Self.translatableNames(map)
                throw BulkRegError(
                    .usage,
                    "--value \(item): expected FIELD:TEXT=VALUE naming a field this file maps"
                        + (fields.isEmpty
                            ? " (it maps none that takes values)" : " (\(fields.joined(separator: ", ")))")
                        + ", e.g. --value \"Company size:11-50=2\""
                )
            }
            guard let eq = rest.lastIndex(of: "=") else {
                throw BulkRegError(
                    .usage,
                    "--value \(item): expected FIELD:TEXT=VALUE, e.g. --value \"Company size:11-50=2\""
                )
            }
            let text = LeadText.trim(String(rest[..<eq]))
            var value = LeadText.trim(String(rest[rest.index(after: eq)...]))
            guard !text.isEmpty, !value.isEmpty else {
                throw BulkRegError(.usage, "--value \(item): TEXT and VALUE must not be empty")
            }
            guard !LeadText.hasControlCharacter(text + value) else {
                throw BulkRegError(.usage, "--value \(item): contains a control character")
            }
            if let field = LeadField(rawValue: name) {
                switch Self.normalize(value, for: field) {
                case .success(let normalized): value = normalized
                case .failure(let rejection): throw BulkRegError(.usage, "--value \(item): \(rejection.reason)")
                }
            }
            let folded = Self.fold(text)
            if let earlier = table[Self.key(name)]?[folded] {
                guard earlier == value else {
                    throw BulkRegError(
                        .usage,
                        "--value \(item): \"\(text)\" in \(name) is already translated to \(earlier)"
                    )
                }
                continue
            }
            add(Translation(field: name, text: text, value: value))
        }
    }

    private mutating func append(_ constant: Constant) {
        constants.append(constant)
        if LeadField(rawValue: constant.name) == nil { extraConstants.append(constant) }
    }

    private mutating func add(_ translation: Translation) {
        translations.append(translation)
        table[Self.key(translation.field), default: [:]][Self.fold(translation.text)] = translation.value
    }

    // MARK: applying

    /// `text` (trimmed) as the vendor should get it in field `key` (``key(_:)``).
    @inline(__always) func translate(_ text: String, key: String) -> String {
        if table.isEmpty { return text }
        return table[key]?[Self.fold(text)] ?? text
    }

    /// The constant of a standard field, if set.
    func constant(_ field: LeadField) -> [String]? {
        constants.first { $0.name == field.rawValue }?.values
    }

    /// The constants of extra fields (kept apart: every row reads them).
    private(set) var extraConstants: [Constant] = []

    // MARK: names and values

    /// Whether a field name is multi-valued: it ends in `[]` and sends each value as a
    /// repeated `NAME[]` pair.
    package static func isMultiValued(_ name: String) -> Bool { name.hasSuffix("[]") && name.count > 2 }

    /// The values of a multi-valued cell: split on `;`, `|` or a line break, trimmed, empty
    /// ones dropped.
    static func split(_ cell: String) -> [String] {
        cell.split(whereSeparator: { $0 == ";" || $0 == "|" || $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { LeadText.trim(String($0)) }.filter { !$0.isEmpty }
    }

    /// How rules and cells find a field: its name lowercased, without `[]`.
    static func key(_ name: String) -> String {
        (isMultiValued(name) ? String(name.dropLast(2)) : name).lowercased()
    }

    static func fold(_ text: String) -> String { LeadText.trim(text).lowercased() }

    /// A cell's (or a rule's) value of standard field `field`, as the vendor takes it.
    static func normalize(_ value: String, for field: LeadField) -> Result<String, LeadText.Rejection> {
        switch field {
        case .smsConsent: return consent(value)
        case .timezoneID:
            guard !value.isEmpty, value.count <= 4, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return .failure(.init("invalid timezone_id (expected a number such as 2)"))
            }
            return .success(String(Int(value) ?? 0))
        case .phoneCountryCode: return LeadText.normalizeCountryCode(value)
        default: return .success(value)
        }
    }

    /// SMS consent: yes/no, y/n, true/false, 1/0, on/off, x or a check mark/empty → `true`/`false`.
    static func consent(_ cell: String) -> Result<String, LeadText.Rejection> {
        switch fold(cell) {
        case "yes", "y", "true", "1", "x", "✓", "✔", "☑", "✅", "on", "t": return .success("true")
        case "no", "n", "false", "0", "", "off", "f": return .success("false")
        default:
            return .failure(
                .init("invalid SMS consent (expected yes/no, y/n, true/false, 1/0, x or ✓, or empty)")
            )
        }
    }

    /// The field `--set NAME=…` gives: a settable standard field's name, or an extra field's.
    private static func constantField(_ given: String, item: String, map: FieldMap, header: [String]) throws -> String {
        let trimmed = LeadText.trim(given)
        if let field = LeadField(rawValue: trimmed) ?? LeadField.byAlias[FieldMap.normalize(trimmed)] {
            guard settable.contains(field) else {
                let hint =
                    field.isTargetColumn
                    ? "give it with --\(field == .webinarID ? "webinar" : field.rawValue) instead"
                    : "it comes from the file"
                throw BulkRegError(
                    .usage,
                    "--set \(item): \(field.label) cannot be set for every row (\(hint)); --set takes "
                        + settable.map(\.rawValue).joined(separator: ", ") + " or a custom field's name"
                )
            }
            if let column = map.column(field) {
                throw BulkRegError(
                    .usage,
                    "--set \(item): column \(column + 1) (\"\(column < header.count ? header[column] : "")\") already gives "
                        + "\(field.rawValue); leave the column out with --map \(field.rawValue)=- to set it for every row"
                )
            }
            return field.rawValue
        }
        if let extra = map.extras.first(where: { key($0.name) == key(trimmed) }) {
            throw BulkRegError(
                .usage,
                "--set \(item): column \(extra.column + 1) already gives \(extra.name) (--map); use one or the other"
            )
        }
        guard FieldMap.isValidAPIFieldName(trimmed) else {
            throw BulkRegError(.usage, "--set \(item): \"\(trimmed)\" is not a valid API field name")
        }
        return trimmed
    }

    /// Splits `FIELD:TEXT=VALUE` at the colon after the longest field name this map has
    /// (labels may hold colons); nil when no prefix names a translatable mapped field.
    private static func splitField(_ item: String, map: FieldMap) -> (String, Substring)? {
        var best: (String, Substring)?
        var index = item.startIndex
        while let colon = item[index...].firstIndex(of: ":") {
            let prefix = LeadText.trim(String(item[..<colon]))
            if let name = translatableField(prefix, map: map) { best = (name, item[item.index(after: colon)...]) }
            index = item.index(after: colon)
        }
        return best
    }

    /// The field `name` designates for `--value`, if this map gives it from a column.
    private static func translatableField(_ name: String, map: FieldMap) -> String? {
        if let field = LeadField(rawValue: name) ?? LeadField.byAlias[FieldMap.normalize(name)] {
            return translatable.contains(field) && map.column(field) != nil ? field.rawValue : nil
        }
        return map.extras.first { key($0.name) == key(name) }?.name
    }

    private static func translatableNames(_ map: FieldMap) -> [String] {
        translatable.filter { map.column($0) != nil }.map(\.rawValue) + map.extras.map(\.name)
    }

    // MARK: stored form and summary

    /// Lines of the stored map: `!NAME␟VALUE[␟VALUE…]` and `~FIELD␟TEXT␟VALUE`.
    var stored: [String] {
        constants.map { "!" + ([$0.name] + $0.values).joined(separator: "\u{1F}") }
            + translations.map { "~" + [$0.field, $0.text, $0.value].joined(separator: "\u{1F}") }
    }

    /// Reads one stored line if it is a rule's; false for a line that is not.
    mutating func read(stored line: Substring) -> Bool {
        guard let first = line.first, first == "!" || first == "~" else { return false }
        let parts = line.dropFirst().split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
        if first == "!", parts.count >= 2 {
            append(Constant(name: parts[0], values: Array(parts.dropFirst())))
        } else if first == "~", parts.count == 3 {
            add(Translation(field: parts[0], text: parts[1], value: parts[2]))
        }
        return true
    }

    /// What the import's summary shows of the rules.
    func describe() -> [String] {
        constants.map { "\($0.name) = \($0.values.joined(separator: "; ")) (every row, --set)" }
            + translations.map { "\($0.field): \"\($0.text)\" → \($0.value) (--value)" }
    }
}
