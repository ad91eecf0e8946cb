import CSV
import Foundation
import SQLite
import TestSupport
import Testing
import WebinarAPI

@testable import BulkReg

@Suite("Lead validation")
struct ValidationTests {
    let map = try! FieldMap(
        header: ["Email Address", "First Name", "Last Name", "Phone Number", "Country Code"],
        overrides: [:],
        file: "t.csv"
    )

    func validate(
        _ row: [String],
        defaults: ImportDefaults = ImportDefaults(webinarID: 5, schedule: 34)
    ) -> Result<Lead, LeadValidator.Rejection> {
        LeadValidator(map: map, defaults: defaults, importedAt: 1_800_000_000).validate(row)
    }

    func reason(_ row: [String], defaults: ImportDefaults = ImportDefaults(webinarID: 5, schedule: 34)) -> String? {
        if case .failure(let r) = validate(row, defaults: defaults) { return r.reason }
        return nil
    }

    @Test("a good row is trimmed and normalised")
    func good() throws {
        let lead = try validate(["  Jane@Example.com ", " Jane ", "Doe", "(555) 123-4567", "1"]).get()
        #expect(lead.email == "Jane@Example.com")
        #expect(lead.firstName == "Jane")
        #expect(lead.phone == "5551234567")
        #expect(lead.phoneCountryCode == "+1")
        #expect(lead.webinarID == 5 && lead.schedule == 34)
    }

    @Test(
        "each rule has its reason",
        arguments: [
            (["a@example.com", "", "", "", ""], "missing first name"),
            (["", "Ann", "", "", ""], "missing email"),
            (["ann@", "Ann", "", "", ""], "invalid email"),
            (["ann@@example.com", "Ann", "", "", ""], "invalid email"),
            (["ann example@example.com", "Ann", "", "", ""], "invalid email"),
            (["ann@example", "Ann", "", "", ""], "invalid email"),
            (["ann@example..com", "Ann", "", "", ""], "invalid email"),
        ]
    )
    func reasons(row: [String], expected: String) {
        #expect(reason(row) == expected)
    }

    @Test(
        "a phone or country code that cannot be read is left out with a warning; the lead is kept",
        arguments: [
            // phone, country-code column, warning
            ("555-CALL-NOW", "", "phone contains letters"),
            ("555*123", "", "phone contains invalid characters"),
            ("1234567890123456", "", "phone has more than 15 digits"),
            ("---", "", "phone has no digits"),
            ("5551234", "US", "invalid phone country code (expected +N)"),
            ("5551234", "+12345", "invalid phone country code (expected +N)"),
            ("+259 123 4567", "", "phone starts with an unknown calling code"),
        ]
    )
    func phoneWarnings(phone: String, code: String, warning: String) throws {
        let lead = try validate(["a@example.com", "Ann", "", phone, code]).get()
        #expect(lead.warnings == [warning + ": left out"])
        #expect(lead.phone == nil || warning.contains("country code"))
        #expect(lead.phoneCountryCode == nil)
    }

    @Test(
        "phones as CRMs write them",
        arguments: [
            // phone, country-code column, expected code, expected digits
            ("555-699-7424 ext. 12", "", nil, "5556997424"),
            ("555-699-7424 x12", "", nil, "5556997424"),
            ("555-699-7424 #12", "", nil, "5556997424"),
            ("555-699-7424, extension 12", "1", "+1", "5556997424"),
            ("+44 20 7946 0958", "", "+44", "2079460958"),
            ("0044 20 7946 0958", "", "+44", "2079460958"),
            ("+44 (0)20 7946 0958", "", "+44", "2079460958"),
            ("(+33) 6 12 34 56 78", "", "+33", "612345678"),
            ("+1 (555) 123-4567", "", "+1", "5551234567"),
            ("+353 1 234 5678", "", "+353", "12345678"),
            ("+44 20 7946 0958", "+33", "+44", "2079460958"),
            ("44 20 7946 0958", "+44", "+44", "2079460958"),
            ("1 555 123 4567", "1", "+1", "5551234567"),
            ("391 234 5678", "+39", "+39", "3912345678"),
            ("55 99123-4567", "+55", "+55", "55991234567"),
            ("55 55 99123-4567", "+55", "+55", "55991234567"),
            ("020 7946 0958", "44", "+44", "02079460958"),
        ] as [(String, String, String?, String)]
    )
    func phoneForms(phone: String, code: String, expectedCode: String?, digits: String) throws {
        let lead = try validate(["a@example.com", "Ann", "", phone, code]).get()
        #expect(lead.warnings == [])
        #expect(lead.phoneCountryCode == expectedCode)
        #expect(lead.phone == digits)
    }

    @Test("among several columns for one field, the first non-empty one in the row wins")
    func firstNonEmpty() throws {
        let map = try FieldMap(
            header: ["Email", "First Name", "Phone Number", "Mobile Phone Number", "OPTIN_IP", "CONFIRM_IP"],
            overrides: [:],
            file: "t.csv"
        )
        #expect(map.candidates[.phone] == [2, 3])
        #expect(map.candidates[.ipAddress] == [4, 5])
        let validator = LeadValidator(
            map: map,
            defaults: ImportDefaults(webinarID: 5, schedule: 34),
            importedAt: 1_800_000_000
        )
        let lead = try validator.validate(["a@example.com", "Ann", "", "555 123 4567", " ", "203.0.113.7"]).get()
        #expect(lead.phone == "5551234567")
        #expect(lead.ipAddress == "203.0.113.7")
        #expect(
            map.describe(header: [
                "Email", "First Name", "Phone Number", "Mobile Phone Number", "OPTIN_IP", "CONFIRM_IP",
            ]) == [
                "email ← \"Email\"", "first_name ← \"First Name\"",
                "phone ← \"Phone Number\", then \"Mobile Phone Number\"",
                "ip_address ← \"OPTIN_IP\", then \"CONFIRM_IP\"",
            ]
        )
        #expect(FieldMap(stored: map.stored) == map)
    }

    @Test("target columns only by their exact names; --map FIELD=- and --ignore leave things out")
    func exactTargetsAndIgnore() throws {
        let header = ["Email", "First Name", "Webinar", "TIMEZONE", "Phone", "Notes"]
        let map = try FieldMap(header: header, overrides: [:], file: "t.csv")
        #expect(map.columns[.webinarID] == nil && map.columns[.timezone] == nil)
        let exact = try FieldMap(
            header: ["email", "first_name", "webinar_id", "schedule_id", "timezone"],
            overrides: [:],
            file: "t.csv"
        )
        #expect(exact.columns[.webinarID] == 2 && exact.columns[.schedule] == 3 && exact.columns[.timezone] == 4)
        let noPhone = try FieldMap(header: header, overrides: ["phone": "-"], file: "t.csv")
        #expect(noPhone.columns[.phone] == nil)
        let ignored = try FieldMap(header: header, overrides: [:], ignored: ["Phone"], file: "t.csv")
        #expect(ignored.columns[.phone] == nil && ignored.columns[.email] == 0)
        #expect(throws: BulkRegError.self) {
            try FieldMap(header: header, overrides: [:], ignored: ["Fax"], file: "t.csv")
        }
        #expect(throws: BulkRegError.self) { try FieldMap(header: header, overrides: ["phon": "-"], file: "t.csv") }
        let timezone = try FieldMap(header: header, overrides: ["timezone": "TIMEZONE"], file: "t.csv")
        #expect(timezone.columns[.timezone] == 3)
    }

    @Test("an IP address column holds IPv4 or IPv6 addresses; anything else rejects the row")
    func ipAddresses() throws {
        let map = try FieldMap(header: ["email", "first_name", "OPTIN_IP"], overrides: [:], file: "t.csv")
        let validator = LeadValidator(
            map: map,
            defaults: ImportDefaults(webinarID: 5, schedule: 34),
            importedAt: 1_800_000_000
        )
        for good in ["203.0.113.7", "2001:db8::1", "::ffff:198.51.100.4", ""] {
            guard case .success(let lead) = validator.validate(["a@example.com", "Ann", good]) else {
                Issue.record("\(good) rejected")
                continue
            }
            #expect(lead.ipAddress == (good.isEmpty ? nil : good))
        }
        for bad in ["203.0.113", "203.0.113.256", "localhost", "1.2.3.4:80", "2001:db8:::1"] {
            guard case .failure(let rejection) = validator.validate(["a@example.com", "Ann", bad]) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(rejection.reason.hasPrefix("invalid IP address"), "\(bad)")
        }
    }

    @Test(
        "phone and country code normalisation",
        arguments: [
            ("555.123.4567", "5551234567"), ("+44 20 7946 0958", "442079460958"), ("(020) 7946-0958", "02079460958"),
            ("555 123 4567", "5551234567"),
        ]
    )
    func phones(raw: String, digits: String) throws {
        #expect(try LeadText.normalizePhone(raw).get() == digits)
    }

    @Test(
        "country codes",
        arguments: [("1", "+1"), ("+44", "+44"), ("0049", "+49"), ("(+33)", "+33"), ("+1-268", "+1268")]
    )
    func countryCodes(raw: String, code: String) throws {
        #expect(try LeadText.normalizeCountryCode(raw).get() == code)
    }

    @Test("EverWebinar date and timezone are checked; WebinarJam ignores them")
    func everwebinar() {
        let ew = ImportDefaults(platform: .everwebinar, webinarID: 6, schedule: 56, date: "2024-02-30 13:00")
        #expect(
            reason(["a@example.com", "Ann", "", "", ""], defaults: ew) == "invalid date (expected YYYY-MM-DD HH:MM)"
        )
        let tz = ImportDefaults(platform: .everwebinar, webinarID: 6, schedule: 56, timezone: "EST")
        #expect(
            reason(["a@example.com", "Ann", "", "", ""], defaults: tz)
                == "invalid timezone (expected GMT-5, GMT+4:30 or a zone like America/New_York)"
        )
        #expect(LeadText.normalizeTimezone("gmt+04:30") == "GMT+4:30")
        // IANA names (Mailchimp's TIMEZONE column) become the offset at the session date.
        #expect(LeadText.gmtOffset(ofZone: "America/New_York", at: "2024-01-05 13:00", now: 1_800_000_000) == "GMT-5")
        #expect(LeadText.gmtOffset(ofZone: "America/New_York", at: "2024-07-05 13:00", now: 1_800_000_000) == "GMT-4")
        #expect(LeadText.gmtOffset(ofZone: "Asia/Kolkata", at: nil, now: 1_800_000_000) == "GMT+5:30")
        // Without a session date: the offset at the given time (the import's), winter and summer.
        #expect(LeadText.gmtOffset(ofZone: "America/New_York", at: nil, now: 1_800_000_000) == "GMT-5")
        #expect(LeadText.gmtOffset(ofZone: "America/New_York", at: nil, now: 1_783_000_000) == "GMT-4")
        #expect(LeadText.gmtOffset(ofZone: "Mars/Olympus", at: nil, now: 1_800_000_000) == nil)
        #expect(LeadText.normalizeTimezone("GMT-5") == "GMT-5")
        #expect(LeadText.normalizeTimezone("GMT+4:20") == nil)
        #expect(LeadText.isValidDate("2024-02-29 23:59"))
        #expect(!LeadText.isValidDate("2023-02-29 10:00"))
        #expect(!LeadText.isValidDate("2024-01-05 24:00"))
    }

    @Test("missing webinar or schedule rejects the row")
    func missingTarget() {
        #expect(
            reason(["a@example.com", "Ann", "", "", ""], defaults: ImportDefaults(schedule: 34))
                == "missing webinar_id (no --webinar and no webinar_id column)"
        )
        #expect(
            reason(["a@example.com", "Ann", "", "", ""], defaults: ImportDefaults(webinarID: 5))
                == "missing schedule (no --schedule and no schedule column)"
        )
    }
}

@Suite("Header mapping")
struct FieldMapTests {
    @Test(
        "aliases from common exports",
        arguments: [
            (["Email Address", "First Name", "Last Name"], LeadField.email, 0),
            (["E-mail", "FNAME", "LNAME"], .firstName, 1),
            (["Given Name", "Surname", "email_address"], .email, 2),
            (["first_name", "email", "Mobile Phone"], .phone, 2),
            (["First Name", "Email", "Mobile Phone Number"], .phone, 2),
            (["Contact Email", "Prénom"], .email, 0),
            (["Contact Email", "Prénom"], .firstName, 1),
            (["EMAIL", "Name"], .fullName, 1),
        ]
    )
    func aliases(header: [String], field: LeadField, column: Int) throws {
        let map = try FieldMap(header: header, overrides: [:], file: "x.csv")
        #expect(map.columns[field] == column)
    }

    @Test("no email column: the message lists the headers and shows the --map fix")
    func noEmail() {
        #expect {
            try FieldMap(header: ["Name", "Contacto"], overrides: [:], file: "leads.csv")
        } throws: { error in
            let e = error as! BulkRegError
            return e.message.contains("\"Name\", \"Contacto\"") && e.message.contains("--map email=")
                && e.message.hasPrefix("leads.csv:")
        }
    }

    @Test("--map picks the column and passes extra API fields through")
    func overrides() throws {
        let map = try FieldMap(
            header: ["Correo", "Nombre", "País", "Rol"],
            overrides: ["email": "Correo", "country": "País", "What is your role?": "Rol"],
            file: "x.csv"
        )
        #expect(map.columns[.email] == 0)
        #expect(map.columns[.firstName] == 1)
        #expect(map.columns[.country] == 2)
        #expect(map.extras.map(\.name) == ["What is your role?"])
        #expect(throws: BulkRegError.self) {
            try FieldMap(header: ["Correo"], overrides: ["email": "Mail"], file: "x.csv")
        }
    }

    @Test("header normalization: case, accents and separators go, and it is idempotent")
    func normalization() throws {
        #expect(FieldMap.normalize("E-mail Address") == "emailaddress")
        #expect(FieldMap.normalize("PRÉNOM") == "prenom")
        #expect(FieldMap.normalize("\u{FEFF}\"Téléphone.Mobile\"") == "telephonemobile")
        #expect(FieldMap.normalize("İP_address") == "ipaddress")
        // Found by scripts/fuzz (fixtures/fuzz/crash-84945094-normalize-cherokee.csv, a UTF-16 BE
        // header): Foundation's folding kept U+036D after Cherokee U+13A0 and dropped it after
        // U+AB70, so a second pass changed the result.
        let cherokee = "n\u{13A0}\u{036D}me"
        #expect(FieldMap.normalize(cherokee) == "n\u{AB70}me")
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/fuzz/crash-84945094-normalize-cherokee.csv")
        let reader = try CSVReader(
            bytes: [UInt8](try Data(contentsOf: fixture)),
            options: CSVReaderOptions(delimiter: nil, maxFieldBytes: 64, maxRecordBytes: 256, maxFields: 16)
        )
        let header = try #require(try reader.next()).fields
        #expect(header.contains { $0.unicodeScalars.contains("\u{13A0}") })
        // Marks that make other letters stay: Japanese voicing marks, Devanagari vowel signs.
        #expect(FieldMap.normalize("メールアドレス") != FieldMap.normalize("メールアトレス"))
        #expect(FieldMap.normalize("कुल") != FieldMap.normalize("कल"))
        #expect(FieldMap.normalize("Ελληνικά") == "ελληνικα")
        // Dropping a mark (CGJ, U+034F) can leave the others out of canonical order: reordered.
        let reordered = "x\u{0591}\u{034F}\u{05B0}"
        #expect(FieldMap.normalize(reordered) == "x\u{05B0}\u{0591}")
        for name in header + [cherokee, reordered, "Straße", "ΑΣ", "İ", "ﬁrst name", "e\u{0301}\u{0327}", "メールアドレス"] {
            let once = FieldMap.normalize(name)
            #expect(FieldMap.normalize(once) == once, "\(name.unicodeScalars.map { $0.value })")
        }
    }

    @Test("a full name column is split when there is no first-name column")
    func fullName() throws {
        let map = try FieldMap(header: ["Email", "Name"], overrides: [:], file: "x.csv")
        let lead = try LeadValidator(
            map: map,
            defaults: ImportDefaults(webinarID: 1, schedule: 1),
            importedAt: 1_800_000_000
        )
        .validate(["a@example.com", "Mary Ann Smith"]).get()
        #expect(lead.firstName == "Mary")
        #expect(lead.lastName == "Ann Smith")
    }
}

@Suite("Import and export")
struct ImportExportTests {
    @Test("every row becomes exactly one job; counts add up")
    func accounting() throws {
        let (dir, s) = try importCSV(
            "a.csv",
            "email,first_name,phone\na@example.com,Ann,\nA@EXAMPLE.COM,Ann2,\nbad,Bob,\nc@example.com,,\nd@example.com,Dee,12ab\ne@example.com,Eve,1,extra\nf@example.com,Fay,,,\n"
        )
        #expect(s.rowsRead == 7)
        #expect(s.queued == 3)
        #expect(s.duplicatesInFile == 1)
        #expect(
            s.rejected == [
                "invalid email": 1, "missing first name": 1, "row has 4 fields, the header has 3": 1,
            ]
        )
        #expect(s.warnings == ["phone contains letters: left out": 1])
        #expect(s.queued + s.duplicates + s.rejectedTotal == s.rowsRead)
        let report = try StatusReport.load(databasePath: dir.db, now: 2_000)
        #expect(report.total == 7)
        #expect(report.states["queued"] == 3 && report.states["rejected"] == 3 && report.states["duplicate"] == 1)
    }

    @Test("re-importing the same file adds nothing; another file adds only new leads")
    func reimport() throws {
        let dir = TempDir()
        let one = dir.write("one.csv", "email,first_name\na@example.com,Ann\nb@example.com,Bob\n")
        let first = try importFile(dir, one)
        #expect(first.queued == 2)
        let again = try importFile(dir, one)
        #expect(again.alreadyImportedAt == 1_000)
        #expect(again.importID == first.importID)
        let two = dir.write("two.csv", "Email,First Name\nB@example.com,Bobby\nc@example.com,Cy\n")
        let second = try importFile(dir, two)
        #expect(second.queued == 1)
        #expect(second.updated == 1)
        #expect(second.duplicatesOfEarlierImports == 0)
        // Same person, other schedule: a new job.
        let three = dir.write("three.csv", "email,first_name\na@example.com,Ann\n")
        #expect(try importFile(dir, three, schedule: 46).queued == 1)
        let report = try StatusReport.load(databasePath: dir.db, now: 2_000)
        #expect(report.total == 5)
        // b's first row was replaced by the second file's: it shows the new job's outcome.
        let rows = try exportRows(dir, state: .duplicate)
        #expect(rows[1][rows[0].firstIndex(of: "status")!] == "duplicate of job 3: queued")
        #expect(rows[1][rows[0].firstIndex(of: "error")!] == "replaced by line 2 of import #2 (job 3)")
    }

    @Test("round trip: export reproduces the original columns and values, in input order")
    func roundTrip() throws {
        let dir = TempDir()
        let text =
            "Email Address,First Name,Notes,Empty\r\nz@example.com,\"Zoë \"\"Z\"\" O'Neil\",\"multi\r\nline, with comma\",\r\na@example.com,Al,=SUM(A1),\r\n"
        let file = dir.write("rt.csv", text)
        _ = try importFile(dir, file)
        let rows = try exportRows(dir)
        #expect(rows[0] == ["Email Address", "First Name", "Notes", "Empty"] + Exporter.resultColumns)
        #expect(Array(rows[1].prefix(4)) == ["z@example.com", "Zoë \"Z\" O'Neil", "multi\r\nline, with comma", ""])
        #expect(Array(rows[2].prefix(4)) == ["a@example.com", "Al", "=SUM(A1)", ""])
        #expect(rows[1][4] == "queued")
    }

    @Test(
        "--excel-safe neutralises formula cells",
        arguments: ["=1+1", "+1+1", "-2+A1", "@SUM(A1)", "\tx", "\rx", "+cmd|' /C calc'!A0"]
    )
    func excelSafe(cell: String) throws {
        let dir = TempDir()
        let quoted = "\"" + cell + "\""
        let file = dir.write("x.csv", "email,first_name,note\na@example.com,Ann,\(quoted)\n")
        _ = try importFile(dir, file)
        #expect(try exportRows(dir, excelSafe: true)[1][2] == "'" + cell)
        #expect(try exportRows(dir, excelSafe: false)[1][2] == cell)
    }

    @Test("files with different headers export side by side")
    func unionOfHeaders() throws {
        let dir = TempDir()
        _ = try importFile(dir, dir.write("a.csv", "email,first_name,city\na@example.com,Ann,Oslo\n"))
        _ = try importFile(dir, dir.write("b.csv", "first_name,email,zip\nBo,b@example.com,0150\n"))
        let rows = try exportRows(dir)
        #expect(Array(rows[0].prefix(4)) == ["email", "first_name", "city", "zip"])
        #expect(Array(rows[1].prefix(4)) == ["a@example.com", "Ann", "Oslo", ""])
        #expect(Array(rows[2].prefix(4)) == ["b@example.com", "Bo", "", "0150"])
    }

    @Test("semicolon, tab, BOM and UTF-16 files import the same leads")
    func encodings() throws {
        let utf16: [UInt8] =
            [0xFF, 0xFE]
            + Array("EMAIL\tFNAME\r\nzoe@example.com\tZoë\r\n".utf16).flatMap {
                [UInt8($0 & 0xFF), UInt8($0 >> 8)]
            }
        let cases: [(String, [UInt8])] = [
            ("semi.csv", Array("\u{FEFF}Email;First Name\r\nzoe@example.com;Zoë\r\n".utf8)),
            ("tab.tsv", Array("Email\tFirst Name\nzoe@example.com\tZoë\n".utf8)),
            ("u16.txt", utf16),
            ("mac.csv", Array("Email,First Name\rzoe@example.com,Zoë\r".utf8)),
        ]
        for (name, content) in cases {
            let dir = TempDir()
            let s = try importFile(dir, dir.write(name, bytes: content))
            #expect(s.queued == 1, "\(name)")
            let rows = try exportRows(dir)
            #expect(Array(rows[1].prefix(2)) == ["zoe@example.com", "Zoë"], "\(name)")
        }
    }

    @Test("a quoted newline inside a name keeps line numbers right for the rows after it")
    func quotedNewlineLines() throws {
        let (dir, s) = try importCSV("q.csv", "email,first_name\na@example.com,\"Ann\nMarie\"\nbad,Bob\n")
        #expect(s.queued == 1)
        let connection = try Connection(.path(dir.db))
        let q = try connection.prepare("SELECT line FROM jobs WHERE state = 'rejected'")
        #expect(try q.step())
        #expect(q.int(0) == 4)
    }

    @Test("per-row webinar, schedule and platform columns override the flags")
    func perRowTargets() throws {
        let dir = TempDir()
        let file = dir.write(
            "m.csv",
            "email,first_name,webinar_id,schedule,platform,date,timezone\na@example.com,Ann,5,34,,,\na@example.com,Ann,5,46,,,\nb@example.com,Bo,6,56,everwebinar,2024-01-05 13:00,GMT-5\n"
        )
        let s = try importFile(dir, file, webinar: nil, schedule: nil)
        #expect(s.queued == 3)
        let report = try StatusReport.load(databasePath: dir.db, now: 2_000)
        #expect(
            report.targets.map { "\($0.platform) \($0.webinarID!)/\($0.schedule!)" } == [
                "everwebinar 6/56", "webinarjam 5/34", "webinarjam 5/46",
            ]
        )
    }
}

@Suite("Bad input: one clear error, nothing changed")
struct BadInputTests {
    func expectInputError(_ dir: TempDir, file: String, db: String? = nil, contains: String) {
        expectImportError(dir, file: file, db: db, contains: contains)
    }

    @Test("missing file, directory, empty file, blank lines only")
    func files() {
        let dir = TempDir()
        expectInputError(dir, file: dir.file("nope.csv"), contains: "No such file")
        expectInputError(dir, file: dir.path, contains: "is a directory")
        expectInputError(dir, file: dir.write("empty.csv", ""), contains: "empty")
        expectInputError(dir, file: dir.write("blank.csv", "\n\n\r\n"), contains: "no header")
        #expect(!FileManager.default.fileExists(atPath: dir.db))
    }

    @Test("no email column names the headers")
    func noEmail() {
        let dir = TempDir()
        expectInputError(
            dir,
            file: dir.write("h.csv", "Name,Phone\nAnn,1\n"),
            contains: "Headers found: \"Name\", \"Phone\""
        )
    }

    @Test("NUL bytes and an unterminated quote name the line; an existing database is unchanged")
    func malformedMidFile() throws {
        let dir = TempDir()
        try importFile(dir, dir.write("ok.csv", "email,first_name\nz@example.com,Z\n"), now: 1)
        var nul = Array("email,first_name\na@example.com,Ann\nb@example.com,B".utf8)
        nul += [0, 0x0A]
        expectInputError(dir, file: dir.write("nul.csv", bytes: nul), contains: "line 3")
        expectInputError(
            dir,
            file: dir.write("q.csv", "email,first_name\na@example.com,Ann\nb@example.com,\"Bob\n"),
            contains: "line 3"
        )
        #expect(try StatusReport.load(databasePath: dir.db, now: 2).total == 1)
    }

    @Test("an unwritable database path")
    func unwritable() {
        let dir = TempDir()
        let file = dir.write("a.csv", "email,first_name\na@example.com,Ann\n")
        expectInputError(dir, file: file, db: dir.file("no/such/dir/db.sqlite"), contains: "does not exist")
        expectInputError(dir, file: file, db: dir.path, contains: "is a directory")
    }

    @Test("a file that is not a database, and one from a newer bulkreg")
    func foreignDatabases() throws {
        let dir = TempDir()
        let file = dir.write("a.csv", "email,first_name\na@example.com,Ann\n")
        let garbage = dir.write("garbage.sqlite", String(repeating: "not a database ", count: 500))
        expectInputError(dir, file: file, db: garbage, contains: "not a bulkreg database")
        let newer = dir.file("newer.sqlite")
        do {
            let c = try Connection(.path(newer))
            try c.execute("PRAGMA journal_mode = DELETE; CREATE TABLE x(y); PRAGMA user_version = 99")
        }
        expectInputError(dir, file: file, db: newer, contains: "newer bulkreg")
    }
}

@Suite("Schema")
struct SchemaTests {
    @Test("an empty file migrates to the current schema; the database file is private")
    func migrateFromEmpty() throws {
        let dir = TempDir()
        _ = FileManager.default.createFile(atPath: dir.db, contents: Data())
        let connection = try Database.open(dir.db, mode: .existing)
        #expect(try connection.scalarInt("PRAGMA user_version") == 5)
        for table in ["imports", "jobs", "results", "targets", "calls"] {
            #expect(try connection.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = '\(table)'") == 1)
        }
        let fresh = dir.file("fresh.sqlite")
        _ = try Database.open(fresh, mode: .create)
        let attributes = try FileManager.default.attributesOfItem(atPath: fresh)
        #expect((attributes[.posixPermissions] as! Int) & 0o077 == 0)
        #expect(try connection.prepare("PRAGMA journal_mode").step())
    }

    @Test("claiming the next queued job uses the partial index")
    func claimUsesIndex() throws {
        let dir = TempDir()
        try importLeads(dir, count: 3)
        let c = try Connection(.path(dir.db))
        let plan = try c.prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE state = 'queued' AND id > 0 ORDER BY id LIMIT 10"
        )
        var details: [String] = []
        while try plan.step() { details.append(plan.text(3) ?? "") }
        #expect(details.joined().contains("jobs_queued"), "\(details)")
    }
}
