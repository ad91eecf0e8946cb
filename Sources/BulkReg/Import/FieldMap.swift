import Foundation

/// The lead fields bulkreg knows, and how CSV headers map onto them.
public enum LeadField: String, Sendable, CaseIterable {
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
            "primaryemail", "workemail", "personalemail", "emailaddr", "courriel",
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
        ],
        .ipAddress: ["ipaddress", "ip", "signupip", "optinip", "confirmip"],
        .platform: ["platform"],
        .webinarID: ["webinarid", "webinar"],
        .schedule: ["schedule", "scheduleid"],
        .date: ["date", "sessiondate", "webinardate"],
        .timezone: ["timezone", "tz"],
    ]

    /// The field as a message names it: `email`, `first name`, `webinar_id`.
    var label: String {
        switch self {
        case .firstName: return "first name"
        case .lastName: return "last name"
        case .fullName: return "full name"
        case .phoneCountryCode: return "phone country code"
        case .ipAddress: return "IP address"
        default: return rawValue
        }
    }

    static let byAlias: [String: LeadField] = {
        var table: [String: LeadField] = [:]
        for (field, names) in aliases { for name in names { table[name] = field } }
        return table
    }()
}

/// Which CSV column feeds which lead field, for one file.
public struct FieldMap: Sendable, Equatable {
    /// Column index per known field.
    public private(set) var columns: [LeadField: Int] = [:]
    /// The same, indexed by `LeadField.ordinal` (no hashing per row).
    private(set) var columnByOrdinal: [Int?] = Array(repeating: nil, count: LeadField.allCases.count)

    /// The column of `field`, if mapped.
    @inline(__always) func column(_ field: LeadField) -> Int? { columnByOrdinal[field.ordinalFast] }
    /// Extra API fields to pass through (`--map country=Country`): API name → column index.
    public private(set) var extras: [(name: String, column: Int)] = []

    public static func == (lhs: FieldMap, rhs: FieldMap) -> Bool {
        // columnByOrdinal is derived from columns.
        lhs.columns == rhs.columns && lhs.extras.map(\.name) == rhs.extras.map(\.name)
            && lhs.extras.map(\.column) == rhs.extras.map(\.column)
    }

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
    public static func normalize(_ header: String) -> String {
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

    /// Builds the map from a header row and `--map FIELD=HEADER` overrides.
    ///
    /// - Throws: `BulkRegError(.usage)` for a `--map` naming a missing header, and
    ///   `BulkRegError(.input)` for ambiguous or missing required columns, listing the
    ///   headers found and the `--map` that fixes it.
    public init(header: [String], overrides: [String: String], file: String) throws {
        let normalized = header.map(Self.normalize)
        func column(named name: String) -> Int? {
            if let exact = header.firstIndex(of: name) { return exact }
            // `#3`: the third column (the only way to pick between two columns of one name).
            if name.hasPrefix("#"), let n = Int(name.dropFirst()), n >= 1, n <= header.count { return n - 1 }
            let n = Self.normalize(name)
            return normalized.firstIndex(of: n)
        }
        var claimed = Set<Int>()
        var overridden = Set<LeadField>()
        for (fieldName, headerName) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let index = column(named: headerName) else {
                throw BulkRegError(
                    .usage,
                    "\(file): --map \(fieldName)=\(headerName): no column named \"\(headerName)\". "
                        + "Headers found: \(Self.list(header))")
            }
            if let field = LeadField(rawValue: fieldName) ?? LeadField.byAlias[Self.normalize(fieldName)] {
                columns[field] = index
                overridden.insert(field)
            } else {
                guard Self.isValidAPIFieldName(fieldName) else {
                    throw BulkRegError(
                        .usage, "--map \(fieldName)=\(headerName): \"\(fieldName)\" is not a valid API field name")
                }
                extras.append((fieldName, index))
            }
            claimed.insert(index)
        }
        for (index, name) in normalized.enumerated() where !claimed.contains(index) {
            guard let field = LeadField.byAlias[name] else { continue }
            guard let taken = columns[field] else {
                columns[field] = index
                continue
            }
            // Two columns for one field: the first wins when their names differ ("Phone",
            // "Mobile Phone"), except for the email, which decides who is registered; two
            // columns of the same name are ambiguous whatever the field.
            if !overridden.contains(field) && (field == .email || normalized[taken] == name) {
                throw BulkRegError(
                    .input,
                    "\(file): columns \(taken + 1) (\"\(header[taken])\") and \(index + 1) (\"\(header[index])\") "
                        + "both look like the \(field.label) column. Tell bulkreg which one to use with "
                        + "--map \(field.rawValue)=#\(taken + 1) or --map \(field.rawValue)=#\(index + 1).")
            }
        }
        columnByOrdinal = LeadField.allCases.map { columns[$0] }
        if columns[.email] == nil {
            throw BulkRegError(
                .input,
                "\(file): no email column. Headers found: \(Self.list(header)). "
                    + "Tell bulkreg which one holds the email with --map email=\"HEADER\".")
        }
        if columns[.firstName] == nil && columns[.fullName] == nil {
            throw BulkRegError(
                .input,
                "\(file): no first-name column. Headers found: \(Self.list(header)). "
                    + "Tell bulkreg which one holds it with --map first_name=\"HEADER\".")
        }
    }

    /// API field names are short identifiers: letters, digits, `_`.
    static func isValidAPIFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" }
            && !["api_key"].contains(name)
    }

    static func list(_ header: [String]) -> String {
        let shown = header.prefix(30).map { "\"\($0)\"" }.joined(separator: ", ")
        return header.count > 30 ? shown + ", … (\(header.count) in all)" : shown
    }
}
