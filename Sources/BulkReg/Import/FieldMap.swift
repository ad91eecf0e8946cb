import Foundation

/// The lead fields bulkreg knows, and how CSV headers map onto them.
package enum LeadField: String, Sendable, CaseIterable {
    /// `ordinal` without a dictionary lookup.
    @inline(__always) var ordinalFast: Int {
        switch self {
        case .firstName: return 0
        case .lastName: return 1
        case .fullName: return 2
        case .email: return 3
        case .phoneCountryCode: return 4
        case .phone: return 5
        case .ipAddress: return 6
        case .platform: return 7
        case .webinarID: return 8
        case .schedule: return 9
        case .date: return 10
        case .timezone: return 11
        case .country: return 12
        case .state: return 13
        case .smsConsent: return 14
        case .timezoneID: return 15
        }
    }

    case firstName = "first_name"
    case lastName = "last_name"
    /// A whole name in one column, split into first and last when those are absent.
    case fullName = "full_name"
    case email
    case phoneCountryCode = "phone_country_code"
    case phone
    case ipAddress = "ip_address"
    // Per-row overrides of the import's defaults.
    case platform
    case webinarID = "webinar_id"
    case schedule
    case date
    case timezone
    // Fields some webinars require (country, state, SMS consent, US time-zone id): sent as
    // they are named here.
    case country
    case state
    /// `twilio_consent`: `true`/`false`, from yes/no, y/n, 1/0, x or ✓/empty.
    case smsConsent = "twilio_consent"
    /// A number (2 = Mountain, 3 = Central), for states that span two time zones.
    case timezoneID = "timezone_id"

    /// Header spellings seen in exports (Mailchimp, HubSpot, ActiveCampaign, Kit, AWeber,
    /// GetResponse, Keap, Kartra, spreadsheets), already normalized by `FieldMap.normalize`.
    static let aliases: [LeadField: [String]] = [
        .firstName: [
            "firstname", "fname", "first", "givenname", "forename", "contactfirstname",
            "subscriberfirstname", "prenom", "vorname", "nombre",
        ],
        .lastName: [
            "lastname", "lname", "last", "surname", "familyname", "contactlastname",
            "subscriberlastname", "nom", "nachname", "apellido", "apellidos",
        ],
        .fullName: ["name", "fullname", "contactname", "subscribername", "displayname"],
        .email: [
            "email", "emailaddress", "mail", "emailid", "contactemail", "subscriberemail",
            "primaryemail", "workemail", "personalemail", "emailaddr", "courriel", "adresseemail", "adressemail",
            "adresseelectronique", "emailadresse", "correo", "correoelectronico", "posta", "emailadres",
        ],
        .phoneCountryCode: [
            "phonecountrycode", "countrycode", "dialcode", "callingcode", "countrycallingcode",
            "phonecode", "phoneprefix",
        ],
        .phone: [
            "phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "cellphone", "cell",
            "cellnumber", "telephone", "tel", "phone1", "sms", "smsnumber", "whatsapp",
            "primaryphone", "workphone", "homephone", "contactphone", "phonemobile", "mobilephonenumber",
            "cellphonenumber", "workphonenumber", "homephonenumber", "phonenumbermobile", "smsphonenumber",
            "portable", "telefon", "telefono", "movil", "handy", "telefoonnummer",
        ],
        .ipAddress: ["ipaddress", "ip", "signupip", "optinip", "confirmip"],
        // The per-row target columns are matched by exact name only (`FieldMap.exactNames`);
        // these names are what `--map` accepts for them.
        .platform: ["platform"],
        .webinarID: ["webinarid"],
        .schedule: ["schedule", "scheduleid"],
        .date: ["date", "sessiondate"],
        .timezone: ["timezone"],
        .country: ["country", "country/region", "countryregion", "countryname", "pays", "pais", "land"],
        .state: [
            "state", "state/province", "stateprovince", "stateorprovince", "state/region", "stateregion", "region",
            "province",
        ],
        .smsConsent: [
            "smsoptin", "smsconsent", "consenttosms", "twilioconsent", "smsoptedin", "smspermission",
            "smsmarketingconsent",
        ],
        .timezoneID: ["timezoneid"],
    ]

    /// A per-row override of the import's target: recognised by its exact column name only.
    var isTargetColumn: Bool {
        switch self {
        case .platform, .webinarID, .schedule, .date, .timezone: return true
        default: return false
        }
    }

    /// The field as a message names it: `email`, `first name`, `webinar_id`.
    var label: String {
        switch self {
        case .firstName: return "first name"
        case .lastName: return "last name"
        case .fullName: return "full name"
        case .phoneCountryCode: return "phone country code"
        case .ipAddress: return "IP address"
        case .smsConsent: return "SMS consent"
        default: return rawValue
        }
    }

    static let byAlias: [String: LeadField] = {
        var table: [String: LeadField] = [:]
        for (field, names) in aliases { for name in names { table[name] = field } }
        return table
    }()
}

/// Which CSV columns feed which lead field, for one file.
///
/// A field can have several candidate columns ("Phone Number", then "Mobile Phone Number"):
/// per row, the first of them that is not empty gives the value. The per-row target columns
/// (`platform`, `webinar_id`, `schedule`/`schedule_id`, `date`, `timezone`) are recognised
/// only by those exact names: a column "Webinar" holding webinar names, or Mailchimp's
/// `TIMEZONE`, is not a target.
package struct FieldMap: Sendable, Equatable {
    /// The first candidate column of each mapped field.
    package private(set) var columns: [LeadField: Int] = [:]
    /// Every candidate column of each mapped field, in the order they are tried.
    package private(set) var candidates: [LeadField: [Int]] = [:]
    /// The same, indexed by `LeadField.ordinal` (no hashing per row).
    private(set) var candidatesByOrdinal: [[Int]] = Array(repeating: [], count: LeadField.allCases.count)

    /// The first candidate column of `field`, if mapped.
    @inline(__always) func column(_ field: LeadField) -> Int? { candidatesByOrdinal[field.ordinalFast].first }
    /// The candidate columns of `field`, in order.
    @inline(__always) func columns(of field: LeadField) -> [Int] { candidatesByOrdinal[field.ordinalFast] }
    /// Extra API fields to pass through (`--map "What is your role?=Role"`): API name → column
    /// index. A name ending in `[]` is multi-valued.
    package private(set) var extras: [(name: String, column: Int)] = []
    /// `--set` and `--value`: constants for every row and translations of cell text.
    package private(set) var rules = FieldRules()

    package static func == (lhs: FieldMap, rhs: FieldMap) -> Bool {
        // columns and candidatesByOrdinal are derived from candidates.
        lhs.candidates == rhs.candidates && lhs.extras.map(\.name) == rhs.extras.map(\.name)
            && lhs.extras.map(\.column) == rhs.extras.map(\.column) && lhs.rules == rhs.rules
    }

    /// Per-row target columns: matched by these exact names only.
    static let exactNames: [String: LeadField] = [
        "platform": .platform, "webinar_id": .webinarID, "schedule": .schedule, "schedule_id": .schedule,
        "date": .date, "timezone": .timezone,
    ]

    /// Lowercased, accents dropped, with spaces, `_`, `-`, `.` and quotes removed:
    /// `E-mail Address` → `emailaddress`, `Prénom` → `prenom`.
    ///
    /// Lowercase, canonical decomposition (NFD), the combining diacritical marks dropped (the
    /// accents of Latin, Greek and Cyrillic letters; not Japanese sound marks or Indic vowel
    /// signs, which make other letters), then NFD again (dropping a mark can leave the others
    /// out of canonical order). The result is lowercase, decomposed, ordered and accent-free,
    /// so normalizing it again changes nothing (`scripts/fuzz` checks it). Foundation's
    /// `folding(options:)` was not idempotent: it kept U+036D after Cherokee U+13A0 but
    /// dropped it after the lowercase U+AB70.
    package static func normalize(_ header: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in header.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar {
            case " ", "_", "-", ".", "\t", "'", "\"", "\u{FEFF}", "\u{A0}": continue
            case "\u{0300}"..."\u{036F}", "\u{1AB0}"..."\u{1AFF}", "\u{1DC0}"..."\u{1DFF}", "\u{20D0}"..."\u{20FF}",
                "\u{FE20}"..."\u{FE2F}":
                continue  // the combining diacritical marks blocks
            default: out.append(scalar)
            }
        }
        return String(out).decomposedStringWithCanonicalMapping
    }

    /// The column `name` designates in `header`: its exact name, `#N` (the Nth column: the
    /// only way to pick between two columns of one name), or its normalized name.
    static func column(named name: String, in header: [String], normalized: [String]) -> Int? {
        if let exact = header.firstIndex(of: name) { return exact }
        if name.hasPrefix("#"), let n = Int(name.dropFirst()), n >= 1, n <= header.count { return n - 1 }
        let n = normalize(name)
        return normalized.firstIndex(of: n)
    }

    /// Builds the map from a header row, `--map FIELD=HEADER` overrides (`FIELD=-`: the field
    /// is not taken from any column), `--ignore HEADER` columns, and the `--set FIELD=VALUE`
    /// and `--value FIELD:TEXT=VALUE` rules (see ``FieldRules``).
    ///
    /// - Throws: `BulkRegError(.usage)` for a `--map` or `--ignore` naming a missing header or
    ///   a rule that cannot apply, and `BulkRegError(.input)` for ambiguous or missing required
    ///   columns, listing the headers found and the `--map` that fixes it.
    package init(
        header: [String],
        overrides: [String: String],
        ignored: [String] = [],
        sets: [String] = [],
        values: [String] = [],
        file: String
    ) throws {
        let normalized = header.map(Self.normalize)
        var claimed = Set<Int>()
        for name in ignored {
            guard let index = Self.column(named: name, in: header, normalized: normalized) else {
                throw BulkRegError(
                    .usage,
                    "\(file): --ignore \(name): no column named \"\(name)\". Headers found: \(Self.list(header))"
                )
            }
            claimed.insert(index)
        }
        var overridden = Set<LeadField>()
        var found: [LeadField: [Int]] = [:]
        for (fieldName, headerName) in overrides.sorted(by: { $0.key < $1.key }) {
            let field = LeadField(rawValue: fieldName) ?? LeadField.byAlias[Self.normalize(fieldName)]
            if headerName == "-" {
                // `--map phone=-`: no column gives this field.
                guard let field else {
                    throw BulkRegError(
                        .usage,
                        "--map \(fieldName)=-: \"\(fieldName)\" is not a field bulkreg maps (fields: "
                            + LeadField.allCases.map(\.rawValue).joined(separator: ", ") + ")"
                    )
                }
                overridden.insert(field)
                found[field] = []
                continue
            }
            guard let index = Self.column(named: headerName, in: header, normalized: normalized) else {
                throw BulkRegError(
                    .usage,
                    "\(file): --map \(fieldName)=\(headerName): no column named \"\(headerName)\". "
                        + "Headers found: \(Self.list(header))"
                )
            }
            if let field {
                found[field] = [index]
                overridden.insert(field)
            } else {
                guard Self.isValidAPIFieldName(fieldName) else {
                    throw BulkRegError(
                        .usage,
                        "--map \(fieldName)=\(headerName): \"\(fieldName)\" is not a valid API field name "
                            + "(a name or a question's label: no control characters, at most 200 bytes)"
                    )
                }
                extras.append((fieldName, index))
            }
            claimed.insert(index)
        }
        for (index, name) in normalized.enumerated() where !claimed.contains(index) {
            let exact = Self.exactNames[header[index]]
            guard let field = exact ?? LeadField.byAlias[name], !field.isTargetColumn || exact != nil,
                !overridden.contains(field)
            else { continue }
            guard let taken = found[field]?.first else {
                found[field] = [index]
                continue
            }
            // Two columns of the same name are ambiguous whatever the field; two email columns
            // too (the email decides who is registered). Otherwise the columns are candidates
            // in order: per row, the first non-empty one gives the value.
            if field == .email || normalized[taken] == name || field.isTargetColumn {
                throw BulkRegError(
                    .input,
                    "\(file): columns \(taken + 1) (\"\(header[taken])\") and \(index + 1) (\"\(header[index])\") "
                        + "both look like the \(field.label) column. Tell bulkreg which one to use with "
                        + "--map \(field.rawValue)=#\(taken + 1) or --map \(field.rawValue)=#\(index + 1)."
                )
            }
            found[field, default: []].append(index)
        }
        candidates = found.filter { !$0.value.isEmpty }
        columns = candidates.compactMapValues(\.first)
        candidatesByOrdinal = LeadField.allCases.map { candidates[$0] ?? [] }
        if columns[.email] == nil {
            throw BulkRegError(
                .input,
                "\(file): no email column. Headers found: \(Self.list(header)). "
                    + "Tell bulkreg which one holds the email with --map email=\"HEADER\"."
            )
        }
        if columns[.firstName] == nil && columns[.fullName] == nil {
            throw BulkRegError(
                .input,
                "\(file): no first-name column. Headers found: \(Self.list(header)). "
                    + "Tell bulkreg which one holds it with --map first_name=\"HEADER\"."
            )
        }
        rules = try FieldRules(sets: sets, values: values, map: self, header: header)
    }

    /// The map as stored with its import (`email=2`, `phone=3,5`, `+country=7`), so the
    /// runner reads each row as the import did, whatever later versions change in the rules.
    package var stored: String {
        var lines: [String] = []
        for field in LeadField.allCases {
            guard let columns = candidates[field], !columns.isEmpty else { continue }
            lines.append("\(field.rawValue)=" + columns.map(String.init).joined(separator: ","))
        }
        for extra in extras { lines.append("+\(extra.name)=\(extra.column)") }
        lines += rules.stored
        return lines.joined(separator: "\n")
    }

    /// A map of given candidates (the frozen rules of an earlier schema).
    init(candidates: [LeadField: [Int]], extras: [(name: String, column: Int)]) {
        self.candidates = candidates.filter { !$0.value.isEmpty }
        self.extras = extras
        columns = self.candidates.compactMapValues(\.first)
        candidatesByOrdinal = LeadField.allCases.map { self.candidates[$0] ?? [] }
    }

    /// A map from its stored form; nil when it does not parse.
    package init?(stored: String) {
        for line in stored.split(separator: "\n") {
            if rules.read(stored: line) { continue }
            guard let eq = line.hasPrefix("+") ? line.lastIndex(of: "=") : line.firstIndex(of: "=") else { return nil }
            let name = line[..<eq]
            let numbers = line[line.index(after: eq)...].split(separator: ",").compactMap { Int($0) }
            guard !numbers.isEmpty, numbers.allSatisfy({ $0 >= 0 }) else { return nil }
            if name.hasPrefix("+") {
                extras.append((String(name.dropFirst()), numbers[0]))
            } else {
                guard let field = LeadField(rawValue: String(name)) else { return nil }
                candidates[field] = numbers
            }
        }
        columns = candidates.compactMapValues(\.first)
        candidatesByOrdinal = LeadField.allCases.map { candidates[$0] ?? [] }
    }

    /// Whether some column gives a per-row webinar and schedule.
    package var hasTargetColumns: (webinar: Bool, schedule: Bool) {
        (columns[.webinarID] != nil, columns[.schedule] != nil)
    }

    /// `field ← "Header"` for every mapped field, in field order, then the extra fields:
    /// what the import's summary shows.
    package func describe(header: [String]) -> [String] {
        var lines: [String] = []
        func name(_ column: Int) -> String { column < header.count ? "\"\(header[column])\"" : "#\(column + 1)" }
        let order: [LeadField] = [
            .email, .firstName, .lastName, .fullName, .phoneCountryCode, .phone, .ipAddress, .country, .state,
            .smsConsent, .timezoneID, .platform, .webinarID, .schedule, .date, .timezone,
        ]
        for field in order {
            guard let columns = candidates[field], !columns.isEmpty else { continue }
            var line = "\(field.rawValue) ← " + columns.map(name).joined(separator: ", then ")
            if field == .smsConsent { line += " (yes/no → true/false)" }
            lines.append(line)
        }
        for extra in extras {
            let translated = rules.translations.contains { FieldRules.key($0.field) == FieldRules.key(extra.name) }
            var how = FieldRules.isMultiValued(extra.name) ? "split on ; or |, each value sent" : "sent as is"
            if translated { how += ", --value translating" }
            lines.append("\(extra.name) ← \(name(extra.column)) (\(how))")
        }
        return lines + rules.describe()
    }

    /// An extra API field: a name (`country`) or a custom question's label exactly as the
    /// webinar shows it (`What is your role?`, `Interests[]`): not empty, no control
    /// characters, no surrounding spaces, at most 200 bytes, not `api_key`.
    static func isValidAPIFieldName(_ name: String) -> Bool {
        let base = FieldRules.isMultiValued(name) ? String(name.dropLast(2)) : name
        return !base.isEmpty && name.utf8.count <= 200 && LeadText.trim(base) == base
            && !LeadText.hasControlCharacter(name) && !name.contains("\t") && !name.contains("\n")
            && !name.contains("\r") && name != "api_key"
    }

    static func list(_ header: [String]) -> String {
        let shown = header.prefix(30).map { "\"\($0)\"" }.joined(separator: ", ")
        return header.count > 30 ? shown + ", … (\(header.count) in all)" : shown
    }
}
