import Testing
import WebinarAPI

@testable import BulkReg

@Suite("Registration fields: aliases, consent, multi-values, --set, --value")
struct FieldRulesTests {
    let header = ["Email", "First Name", "SMS opt-in", "Country/Region", "State/Province", "Role", "Interests", "Size"]
    let overrides = ["What is your role?": "Role", "Interests[]": "Interests", "Company size": "Size"]

    func map(sets: [String] = [], values: [String] = [], overrides extra: [String: String] = [:]) throws -> FieldMap {
        try FieldMap(
            header: header,
            overrides: overrides.merging(extra) { $1 },
            sets: sets,
            values: values,
            file: "t.csv"
        )
    }

    func lead(_ row: [String], _ map: FieldMap) -> Result<Lead, LeadValidator.Rejection> {
        LeadValidator(map: map, defaults: ImportDefaults(webinarID: 1, schedule: 11), importedAt: 1_800_000_000)
            .validate(row)
    }

    func fields(_ result: Result<Lead, LeadValidator.Rejection>) -> [String] {
        guard case .success(let lead) = result else { return [] }
        return lead.extras.map { "\($0.0)=\($0.1)" }
    }

    @Test(
        "consent cells normalise to true/false; anything else is refused",
        arguments: [
            ("Yes", "true"), ("yes", "true"), ("TRUE", "true"), ("1", "true"), ("Y", "true"), ("x", "true"),
            ("✓", "true"), (" on ", "true"), ("No", "false"), ("n", "false"), ("false", "false"), ("0", "false"),
            ("", "false"), ("maybe", nil), ("2", nil), ("opted in", nil),
        ] as [(String, String?)]
    )
    func consent(cell: String, expected: String?) {
        switch FieldRules.consent(cell) {
        case .success(let value): #expect(value == expected)
        case .failure(let rejection):
            #expect(expected == nil)
            #expect(rejection.reason.hasPrefix("invalid SMS consent"))
        }
    }

    @Test("aliases find country, state and consent; a label and a multi-select pass through, values split and trimmed")
    func mapped() throws {
        let m = try map()
        #expect(m.column(.smsConsent) == 2 && m.column(.country) == 3 && m.column(.state) == 4)
        let result = lead(["a@example.com", "Ann", "Yes", "US", "TX", "CMO", " Email ; 3|| SEO ", "2"], m)
        #expect(
            Set(fields(result)) == [
                "country=US", "state=TX", "twilio_consent=true", "Company size=2", "Interests[]=Email", "Interests[]=3",
                "Interests[]=SEO", "What is your role?=CMO",
            ]
        )
        #expect(
            fields(result).filter { $0.hasPrefix("Interests[]") } == [
                "Interests[]=Email", "Interests[]=3", "Interests[]=SEO",
            ]
        )
        // An empty consent cell of a mapped column is a "false"; an empty country is left out.
        let empty = lead(["b@example.com", "Bob", "", "", "", "", "", ""], m)
        #expect(fields(empty) == ["twilio_consent=false"])
        // A consent nobody can read rejects the row, naming the field (not the value).
        guard case .failure(let rejection) = lead(["c@example.com", "Cy", "perhaps", "US", "", "", "", ""], m) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(rejection.reason.hasPrefix("invalid SMS consent") && !rejection.reason.contains("perhaps"))
    }

    @Test("--value translates each value, trimmed and in any case; consent texts too, before normalising")
    func translations() throws {
        let m = try map(values: [
            "Interests:email=1", "Interests[]:SEO=3", "Company size:11-50=2", "SMS opt-in:Opted in=yes",
        ])
        let result = lead(["a@example.com", "Ann", "opted IN", "US", "", "", "EMAIL;4; seo", " 11-50 "], m)
        #expect(
            Set(fields(result)) == [
                "country=US", "twilio_consent=true", "Interests[]=1", "Interests[]=4", "Interests[]=3",
                "Company size=2",
            ]
        )
        // A label holding a colon: the longest mapped name wins.
        let colon = try FieldMap(
            header: ["Email", "First Name", "Role: main"],
            overrides: ["Role: main": "Role: main"],
            values: ["Role: main:Chief: Marketing=CMO"],
            file: "t.csv"
        )
        #expect(fields(lead(["a@example.com", "Ann", "chief: marketing"], colon)) == ["Role: main=CMO"])
        #expect(throws: BulkRegError.self) { try map(values: ["Colour:red=1"]) }
        #expect(throws: BulkRegError.self) { try map(values: ["Interests:Email="]) }
        #expect(throws: BulkRegError.self) { try map(values: ["Interests:Email=1", "Interests:email=2"]) }
        #expect(throws: BulkRegError.self) { try map(values: ["SMS opt-in:Opted in=perhaps"]) }
    }

    @Test("--set gives every row a value; it refuses a field a column gives, the lead's identity and the target")
    func constants() throws {
        let header = ["Email", "First Name"]
        let m = try FieldMap(
            header: header,
            overrides: [:],
            sets: [
                "twilio_consent=Y", "country=US", "What is your role?=Owner", "Interests[]=1;3",
                "phone_country_code=44",
            ],
            file: "t.csv"
        )
        guard
            case .success(let l) = LeadValidator(
                map: m,
                defaults: ImportDefaults(webinarID: 1, schedule: 11),
                importedAt: 1_800_000_000
            ).validate(
                ["a@example.com", "Ann"])
        else {
            Issue.record("expected a lead")
            return
        }
        #expect(
            Set(l.extras.map { "\($0.0)=\($0.1)" }) == [
                "country=US", "twilio_consent=true", "What is your role?=Owner", "Interests[]=1", "Interests[]=3",
            ]
        )
        #expect(l.phoneCountryCode == "+44")
        for bad in [
            "email=x@example.com", "first_name=Ann", "webinar_id=5", "twilio_consent=perhaps", "country=",
            "country=US\u{7}",
        ] {
            #expect(throws: BulkRegError.self, "\(bad)") {
                try FieldMap(header: header, overrides: [:], sets: [bad], file: "t.csv")
            }
        }
        #expect(throws: BulkRegError.self) { try map(sets: ["country=US"]) }  // Country/Region gives it
        #expect(throws: BulkRegError.self) { try map(sets: ["Interests[]=1"]) }  // --map gives it
        #expect(throws: BulkRegError.self) { try map(sets: ["country=US", "Country=CA"], overrides: ["country": "-"]) }
        #expect((try? map(sets: ["country=US"], overrides: ["country": "-"])) != nil)
    }

    @Test("the stored map keeps the rules: the runner reads a row as the import did")
    func storedRoundTrip() throws {
        let m = try map(sets: ["timezone_id=3", "Budget=1000"], values: ["Interests:Email=1", "Company size:11-50=2"])
        let stored = try #require(FieldMap(stored: m.stored))
        #expect(stored == m)
        let row = ["a@example.com", "Ann", "1", "US", "TX", "CMO", "Email;SEO", "11-50"]
        #expect(fields(lead(row, stored)) == fields(lead(row, m)))
        #expect(
            Set(fields(lead(row, stored))).isSuperset(of: [
                "timezone_id=3", "Budget=1000", "Interests[]=1", "Company size=2",
            ])
        )
    }

    @Test("multi-values are sent as repeated NAME[] pairs; names PHP would read as a standard field are not sent")
    func form() {
        var request = RegistrationRequest(
            platform: .webinarjam,
            webinarID: 1,
            schedule: 11,
            firstName: "Ann",
            email: "a@example.com"
        )
        request.extraFields = ["first name": "Mallory", "country": "US", " email": "x"]
        request.multiFields = ["Interests[]": ["1", "3"], "email[]": ["evil@example.com"]]
        let pairs = HTTPWebinarAPI.formFields(for: request).map { "\($0.0)=\($0.1)" }
        #expect(
            pairs == [
                "webinar_id=1", "first_name=Ann", "email=a@example.com", "schedule=11", "country=US", "Interests[]=1",
                "Interests[]=3",
            ]
        )
    }
}
