import Foundation
import TestSupport
import Testing
import WebinarSim

// Nested in a serialized suite: run after its tests, not beside every other end-to-end
// suite at the start (two cores: the in-process simulators of the API tests starved).
extension ForgivingImportTests {
    /// The fields real webinars require, through the binary, against the simulator's webinar 1
    /// (SMS consent and country required; a role question, a "Company size" dropdown and an
    /// "Interests" multi-select).
    @Suite("Registration fields, through the binary", .serialized)
    struct RegistrationFieldsTests {
        let key = "e2e-key-0123456789"

        static let consents = ["Yes", "yes", "TRUE", "1", "Y", "no", "", "x", "0", "n"]
        static let sizes = ["1-10", "11-50", "51-200", "201+"]
        static let interests = ["Email", "Social", "SEO", "Ads"]

        /// A 60-row CRM export: phones as CRMs write them, consent spelled five ways and left
        /// empty, country, a role, company size as text or as an id, interests as labels and ids
        /// mixed; row 61 has a consent nobody can read.
        static func crmExport() -> String {
            var lines = ["Email,First Name,Last Name,Mobile Phone,SMS opt-in,Country,Job title,Company size,Interests"]
            for i in 1...60 {
                let consent = consents[i % consents.count]
                let size = i % 3 == 0 ? String(i % 4 + 1) : sizes[i % 4]
                let mine =
                    [interests[i % 4], String((i + 1) % 4 + 1)]
                    + (i % 5 == 0 ? [interests[(i + 2) % 4].lowercased()] : [])
                let phone = String(format: "+1 (555) 010-%04d", i)
                lines.append(
                    "lead\(i)@example.com,Lead\(i),Crm,\(phone),\(consent),\(i % 2 == 0 ? "US" : "CA"),Role \(i),\(size),\"\(mine.joined(separator: i % 2 == 0 ? "; " : "|"))\""
                )
            }
            lines.append("bad@example.com,Bad,Consent,+1 (555) 010-9999,maybe,US,Role,1-10,Email")
            return lines.joined(separator: "\n") + "\n"
        }

        /// What the simulator must have received for lead `i`.
        static func expected(_ i: Int) -> (extra: [String: String], interests: [String]) {
            let yes: Set<String> = ["yes", "true", "1", "y", "x"]
            let consent = yes.contains(consents[i % consents.count].lowercased()) ? "true" : "false"
            let size = String(i % 4 + 1)  // an id as is, or a label translated
            var ids = [String(i % 4 + 1), String((i + 1) % 4 + 1)]
            if i % 5 == 0 { ids.append(String((i + 2) % 4 + 1)) }
            return (
                [
                    "twilio_consent": consent, "country": i % 2 == 0 ? "US" : "CA", "What is your role?": "Role \(i)",
                    "Company size": size,
                ],
                ids
            )
        }

        @Test(
            "a CRM export with consent, country, a question, a dropdown and a multi-select: every lead sent exactly those fields"
        )
        func crmFields() async throws {
            let (ws, file) = Workspace.e2e(writing: "crm.csv", Self.crmExport())
            var args = [
                "import", file, "--webinar", "1", "--schedule", "11", "--db", ws.db, "--map",
                "What is your role?=Job title",
                "--map", "Company size=Company size", "--map", "Interests[]=Interests",
            ]
            for (index, size) in Self.sizes.enumerated() { args += ["--value", "Company size:\(size)=\(index + 1)"] }
            for (index, label) in Self.interests.enumerated() {
                args += ["--value", "Interests:\(label)=\(index + 1)"]
            }
            let imported = try await bulkreg(args)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(
                imported.stdout.contains("61 rows read") && imported.stdout.contains("queued     60"),
                "\(imported.stdout)"
            )
            #expect(imported.stdout.contains("1 × invalid SMS consent"), "\(imported.stdout)")
            #expect(imported.stdout.contains("twilio_consent ← \"SMS opt-in\""), "\(imported.stdout)")
            #expect(imported.stdout.contains("phone ← \"Mobile Phone\""), "\(imported.stdout)")

            try await withSimulator { sim in
                let run = try await bulkreg(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--settle-minimum", "2"],
                    env: ["WEBINARJAM_API_KEY": key]
                )
                #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
                let registrations = await sim.registrations()
                #expect(registrations.count == 60)
                for registration in registrations {
                    let i = Int(registration.email.dropFirst(4).prefix { $0.isNumber })!
                    let (extra, ids) = Self.expected(i)
                    #expect(registration.extraFields == extra, "lead \(i): \(registration.extraFields)")
                    #expect(registration.multiFields == ["Interests[]": ids], "lead \(i): \(registration.multiFields)")
                    #expect(
                        registration.phoneCountryCode == "+1" && registration.phone == String(format: "555010%04d", i)
                    )
                }
            }
            let rejected = try await bulkreg(["export", "-", "--db", ws.db, "--state", "rejected"])
            let rows = csvRows(rejected.stdout)
            #expect(rows.count == 2 && rows[1][0] == "bad@example.com")
            #expect(rejected.stdout.contains("\"invalid SMS consent (expected yes/no"), "\(rejected.stdout)")
        }

        @Test(
            "without the fields it requires, the webinar refuses with its field errors; --set gives every row one value"
        )
        func requiredAndSet() async throws {
            let (ws, file) = Workspace.e2e(
                writing: "plain.csv",
                "Email,First Name,Interests\na@example.com,Ann,SEO\nb@example.com,Bob,Email;Ads\n"
            )
            let base = [
                "import", file, "--webinar", "1", "--schedule", "11", "--db", ws.db, "--map", "Interests[]=Interests",
            ]
            #expect(try await bulkreg(base).status == 0)
            try await withSimulator { sim in
                let env = ["WEBINARJAM_API_KEY": key]
                let options = ["--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--settle-minimum", "2"]
                let refused = try await bulkreg(["run"] + options, env: env)
                #expect(refused.status == 3, "\(refused.stdout)\n\(refused.stderr)")
                let failed = csvRows(try await bulkreg(["export", "-", "--db", ws.db, "--state", "failed"]).stdout)
                let error = failed[0].firstIndex(of: "error")!
                #expect(failed.count == 3)
                #expect(
                    failed.dropFirst().allSatisfy {
                        $0[error].contains("twilio_consent") && $0[error].contains("country")
                    },
                    "\(failed)"
                )

                // The corrected import: constants and translations; the failed jobs take it over.
                let fixed = try await bulkreg(
                    base + [
                        "--set", "twilio_consent=yes", "--set", "country=US", "--set", "What is your role?=Owner",
                        "--set", "Company size=2", "--value", "Interests:seo=3", "--value", "Interests:Email=1",
                        "--value", "Interests:ADS=4",
                    ]
                )
                #expect(fixed.status == 0 && fixed.stdout.contains("updated    2"), "\(fixed.stdout)\n\(fixed.stderr)")
                let again = try await bulkreg(["run"] + options, env: env)
                #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
                let registrations = await sim.registrations().sorted { $0.email < $1.email }
                #expect(registrations.map(\.multiFields) == [["Interests[]": ["3"]], ["Interests[]": ["1", "4"]]])
                #expect(
                    registrations.allSatisfy {
                        $0.extraFields
                            == [
                                "twilio_consent": "true", "country": "US", "What is your role?": "Owner",
                                "Company size": "2",
                            ]
                    }
                )
            }
            // A --set for a field a column gives, and one the file must give, are usage errors; nothing changes.
            let both = try await bulkreg(base + ["--set", "Interests[]=1"])
            #expect(both.status == 2 && both.stderr.contains("already gives Interests[]"), "\(both.stderr)")
            let email = try await bulkreg(base + ["--set", "email=x@example.com"])
            #expect(email.status == 2 && email.stderr.contains("cannot be set for every row"), "\(email.stderr)")
            let unknown = try await bulkreg(base + ["--value", "Colour:red=1"])
            #expect(
                unknown.status == 2 && unknown.stderr.contains("naming a field this file maps"),
                "\(unknown.stderr)"
            )
        }
    }
}
