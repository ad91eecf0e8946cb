import Foundation
import TestSupport
import Testing
import WebinarSim

/// A user's ordinary mistakes, undone through the binary: re-imports, corrected files,
/// cancel, phones as CRMs write them, the mapping, the export back into the CRM, and a run
/// that picks up what is imported while it goes on.
@Suite("Forgiving imports and exports, through the binary", .serialized)
struct ForgivingImportTests {
    let key = "e2e-key-0123456789"

    func run(_ ws: Workspace, _ sim: RunningSimulator, _ extra: [String] = []) async throws -> Outcome {
        try await bulkreg(
            [
                "run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "2", "--settle-minimum", "2",
                "--quiet",
            ] + extra,
            env: ["WEBINARJAM_API_KEY": key]
        )
    }

    func importFile(_ ws: Workspace, _ file: String, _ args: [String]) async throws -> Outcome {
        try await bulkreg(["import", file, "--db", ws.db] + args)
    }

    func column(_ rows: [[String]], _ name: String) -> Int { rows[0].firstIndex(of: name)! }

    @Test("no target is a usage error (nothing stored); the same file into another webinar is a new import")
    func identity() async throws {
        let (ws, file) = Workspace.e2e(writing: "leads.csv", leadsCSV(count: 3))
        let none = try await importFile(ws, file, [])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no webinar to register these leads into") && none.stderr.contains("--webinar ID"))
        #expect(!FileManager.default.fileExists(atPath: ws.db))
        let noSchedule = try await importFile(ws, file, ["--webinar", "5"])
        #expect(noSchedule.status == 2 && noSchedule.stderr.contains("--schedule ID"))
        #expect(!FileManager.default.fileExists(atPath: ws.db))

        let first = try await importFile(ws, file, ["--webinar", "5", "--schedule", "34"])
        #expect(first.status == 0 && first.stdout.contains("import #1") && first.stdout.contains("queued     3"))
        let again = try await importFile(ws, file, ["--webinar", "5", "--schedule", "34"])
        #expect(again.stdout.contains("already imported as import #1"), "\(again.stdout)")
        let other = try await importFile(ws, file, ["--webinar", "5", "--schedule", "46"])
        #expect(other.stdout.contains("import #2") && other.stdout.contains("queued     3"), "\(other.stdout)")
        let remapped = try await importFile(ws, file, ["--webinar", "5", "--schedule", "46", "--map", "phone=-"])
        #expect(remapped.stdout.contains("import #3"), "\(remapped.stdout)")
        // Read another way, the same leads for the same target: the new rows take over the queued jobs.
        #expect(remapped.stdout.contains("updated    3"), "\(remapped.stdout)")
    }

    @Test(
        "a corrected file fixes its leads: done → already registered, failed and queued → updated and sent with the new data"
    )
    func correctedFile() async throws {
        let ws = Workspace.e2e()
        // Webinar 2 requires last name, phone and its country code: b@'s phone has no code.
        let first = ws.write(
            "first.csv",
            "Email,First Name,Last Name,Phone\na@example.com,Ann,Smith,+1 555 010 0001\nb@example.com,Bob,Jones,020 7946 0958\n"
        )
        #expect(try await importFile(ws, first, ["--webinar", "2", "--schedule", "21"]).status == 0)
        try await withSimulator { sim in
            let one = try await run(ws, sim)
            #expect(one.status == 3, "\(one.stdout) \(one.stderr)")
            // c@ is imported but not run yet: queued.
            let later = ws.write(
                "later.csv",
                "Email,First Name,Last Name,Phone\nc@example.com,Cyd,Lee,+1 555 010 0003\n"
            )
            #expect(try await importFile(ws, later, ["--webinar", "2", "--schedule", "21"]).status == 0)

            let corrected = ws.write(
                "corrected.csv",
                "Email,First Name,Last Name,Phone\na@example.com,Ann,Smith,+1 555 010 0001\n"
                    + "b@example.com,Bob,Jones,+44 20 7946 0958\nc@example.com,Cy,Lee,+1 555 010 0003\n"
                    + "d@example.com,Dee,Moss,+1 555 010 0004\n"
            )
            let fixed = try await importFile(ws, corrected, ["--webinar", "2", "--schedule", "21"])
            #expect(fixed.status == 0)
            #expect(fixed.stdout.contains("queued     1"), "\(fixed.stdout)")
            #expect(fixed.stdout.contains("updated    2"), "\(fixed.stdout)")
            #expect(fixed.stdout.contains("duplicate  1 (1 already registered)"), "\(fixed.stdout)")

            let two = try await run(ws, sim)
            #expect(two.status == 0, "\(two.stdout) \(two.stderr)")
            let registrations = await sim.registrations()
            #expect(
                registrations.map(\.email).sorted() == [
                    "a@example.com", "b@example.com", "c@example.com", "d@example.com",
                ]
            )
            let b = try #require(registrations.first { $0.email == "b@example.com" })
            #expect(b.phoneCountryCode == "+44" && b.phone == "2079460958")
            #expect(registrations.first { $0.email == "c@example.com" }?.firstName == "Cy")
            #expect((await sim.stats()).duplicates == 0)

            // The corrected file's own export: its columns, every lead with its links.
            let export = try await bulkreg(["export", "-", "--import", "3", "--db", ws.db])
            let rows = csvRows(export.stdout)
            #expect(rows[0].prefix(4) == ["Email", "First Name", "Last Name", "Phone"])
            #expect(rows.count == 5)
            let status = column(rows, "status")
            let live = column(rows, "live_room_url")
            #expect(rows[1][status] == "duplicate of job 1: done")
            #expect(rows[1][live] == registrations.first { $0.email == "a@example.com" }?.liveRoomURL)
            #expect(rows.dropFirst(2).allSatisfy { $0[status] == "done" && !$0[live].isEmpty }, "\(export.stdout)")
            // The first file's b@ row now shows the job that replaced it.
            let all = csvRows(try await bulkreg(["export", "-", "--import", "1", "--db", ws.db]).stdout)
            #expect(all[2][status].hasPrefix("duplicate of job ") && all[2][status].hasSuffix(": done"), "\(all)")
            #expect(all[2][column(all, "error")].hasPrefix("replaced by line 3 of import #3"))
        }
    }

    @Test("a lead being checked (uncertain) is left alone by a re-import")
    func uncertainLeftAlone() async throws {
        let ws = try await workspace(leads: 2)
        try await withSimulator { config in
            config.faults.registrantsDownS = 600
        } run: { sim in
            await sim.injectFaults([.resetAfterStore])
            let one = try await run(ws, sim, ["--check-patience", "1"])
            #expect(one.status == 3, "\(one.stdout) \(one.stderr)")
            let again = ws.write("again.csv", leadsCSV(count: 2).replacingOccurrences(of: "Person1,", with: "P1,"))
            let outcome = try await importFile(ws, again, ["--webinar", "5", "--schedule", "34"])
            #expect(outcome.stdout.contains("1 being registered or checked now: left alone"), "\(outcome.stdout)")
            #expect(outcome.stdout.contains("1 already registered"), "\(outcome.stdout)")
            let status = try await bulkreg(["status", "--json", "--db", ws.db])
            #expect(status.stdout.contains("\"uncertain\":1"), "\(status.stdout)")
        }
    }

    @Test("cancel takes queued and failed jobs out of the queue, never done or uncertain ones")
    func cancel() async throws {
        let ws = Workspace.e2e()
        let one = ws.write("one.csv", leadsCSV(count: 3))
        let two = ws.write("two.csv", "Email,First Name\nx@example.com,X\ny@example.com,Y\n")
        #expect(try await importFile(ws, one, ["--webinar", "5", "--schedule", "34"]).status == 0)
        #expect(try await importFile(ws, two, ["--webinar", "5", "--schedule", "46"]).status == 0)
        let byJob = try await bulkreg(["cancel", "--job", "1", "--db", ws.db])
        #expect(byJob.status == 0 && byJob.stdout == "1 job cancelled.\n", "\(byJob.stdout)")
        let byTarget = try await bulkreg(["cancel", "--target", "5:46", "--db", ws.db])
        #expect(byTarget.stdout == "2 jobs cancelled.\n", "\(byTarget.stdout)")
        #expect(try await bulkreg(["cancel", "--db", ws.db]).status == 2)
        #expect(try await bulkreg(["cancel", "--import", "9", "--db", ws.db]).status == 2)
        try await withSimulator { sim in
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            #expect(await sim.registrations().map(\.email).sorted() == ["person2@example.com", "person3@example.com"])
        }
        let byImport = try await bulkreg(["cancel", "--import", "1", "--db", ws.db])
        #expect(byImport.stdout == "0 jobs cancelled; left alone: 2 done.\n", "\(byImport.stdout)")
        let rows = csvRows(try await bulkreg(["export", "-", "--state", "cancelled", "--db", ws.db]).stdout)
        #expect(rows.count == 4)
        // A cancelled lead imported again is queued again.
        let back = ws.write("back.csv", "Email,First Name\nx@example.com,Xavier\n")
        let outcome = try await importFile(ws, back, ["--webinar", "5", "--schedule", "46"])
        #expect(outcome.stdout.contains("updated    1"), "\(outcome.stdout)")
    }

    @Test("phones as CRMs write them reach the vendor split and clean; an unreadable optional phone is left out")
    func phones() async throws {
        let (ws, file) = Workspace.e2e(
            writing: "phones.csv",
            "Email,First Name,Last Name,Phone,Country Code\n"
                + "ext@example.com,Ext,A,555-699-7424 ext. 12,+1\n"
                + "plus@example.com,Plus,B,+44 20 7946 0958,\n"
                + "zeros@example.com,Zeros,C,0044 20 7946 0958,\n"
                + "twice@example.com,Twice,D,44 20 7946 0958,+44\n"
                + "bad@example.com,Bad,E,call me maybe,\n"
        )
        let imported = try await importFile(ws, file, ["--webinar", "5", "--schedule", "34"])
        #expect(imported.stdout.contains("queued     5"), "\(imported.stdout)")
        #expect(imported.stdout.contains("1 × phone contains letters: left out"), "\(imported.stdout)")
        try await withSimulator { sim in
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            let sent = Dictionary(uniqueKeysWithValues: await sim.registrations().map { ($0.email, $0) })
            #expect(sent["ext@example.com"]?.phone == "5556997424" && sent["ext@example.com"]?.phoneCountryCode == "+1")
            for email in ["plus@example.com", "zeros@example.com", "twice@example.com"] {
                #expect(sent[email]?.phone == "2079460958" && sent[email]?.phoneCountryCode == "+44", "\(email)")
            }
            #expect(sent["bad@example.com"]?.phone == nil)
        }
    }

    @Test("the mapping line, --map FIELD=- and --ignore; target columns only by exact names")
    func mapping() async throws {
        let (ws, file) = Workspace.e2e(
            writing: "sheet.csv",
            "Email Address,First Name,Phone Number,Mobile Phone Number,Webinar,TIMEZONE,OPTIN_IP,CONFIRM_IP\n"
                + "a@example.com,Ann,,555 010 0001,Spring launch,America/New_York,,203.0.113.7\n"
        )
        let shown = try await importFile(ws, file, ["--webinar", "5", "--schedule", "34"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(
            shown.stdout.contains("    email ← \"Email Address\"\n    first_name ← \"First Name\"\n"),
            "\(shown.stdout)"
        )
        #expect(shown.stdout.contains("phone ← \"Phone Number\", then \"Mobile Phone Number\""))
        #expect(shown.stdout.contains("ip_address ← \"OPTIN_IP\", then \"CONFIRM_IP\""))
        #expect(!shown.stdout.contains("webinar_id ←") && !shown.stdout.contains("timezone ←"))
        let ws2 = Workspace.e2e()
        let left = try await bulkreg(
            [
                "import", file, "--db", ws2.db, "--webinar", "5", "--schedule", "34", "--map", "phone=-", "--ignore",
                "OPTIN_IP",
            ])
        #expect(
            !left.stdout.contains("phone ←") && left.stdout.contains("ip_address ← \"CONFIRM_IP\"\n"),
            "\(left.stdout)"
        )
        let bad = try await bulkreg([
            "import", file, "--db", ws2.db, "--webinar", "5", "--schedule", "34", "--ignore", "Fax",
        ])
        #expect(bad.status == 2 && bad.stderr.contains("--ignore Fax: no column named \"Fax\""))
        try await withSimulator { sim in
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            let sent = try #require(await sim.registrations().first)
            #expect(sent.phone == "5550100001")
            #expect(sent.webinarID == 5)
        }
    }

    @Test("export filters and columns: by import, webinar and state; --excel writes a BOM and the import's delimiter")
    func exportFilters() async throws {
        let ws = Workspace.e2e()
        let french = ws.write(
            "fr.csv",
            "Courriel;Prénom;Téléphone\nana@example.com;Ana;+33 6 12 34 56 78\nbea@example.com;Béa;-3\n"
        )
        let us = ws.write("us.csv", "Email,First Name\nana@example.com,Ana\ncal@example.com,Cal\n")
        #expect(try await importFile(ws, french, ["--webinar", "5", "--schedule", "34"]).status == 0)
        #expect(try await importFile(ws, us, ["--webinar", "5", "--schedule", "46"]).status == 0)
        try await withSimulator { sim in
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
        }
        let excel = try await bulkreg([
            "export", ws.file("fr-out.csv"), "--import", "1", "--excel", "--excel-safe", "--db", ws.db,
        ])
        #expect(excel.status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ws.file("fr-out.csv")))
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        #expect(
            text.hasPrefix("Courriel;Prénom;Téléphone;status;job_id;platform;webinar_id;schedule;session_date;user_id;")
        )
        // --excel-safe leaves phone numbers and plain numbers alone.
        #expect(text.contains("ana@example.com;Ana;+33 6 12 34 56 78;done;1;webinarjam;5;34;"), "\(text)")
        #expect(text.contains("bea@example.com;Béa;-3;done;2;"), "\(text)")

        let bySchedule = csvRows(
            try await bulkreg(["export", "-", "--webinar", "5", "--schedule", "46", "--db", ws.db]).stdout
        )
        #expect(bySchedule.count == 3)
        #expect(bySchedule[0].prefix(5) == ["Courriel", "Prénom", "Téléphone", "Email", "First Name"])
        let states = csvRows(
            try await bulkreg([
                "export", "-", "--state", "done", "--state", "duplicate", "--import", "2", "--db", ws.db,
            ]).stdout
        )
        #expect(states.count == 3 && states[0].prefix(2) == ["Email", "First Name"])
        #expect(states[1][column(states, "schedule")] == "46")
        #expect(try await bulkreg(["export", "-", "--import", "7", "--db", ws.db]).status == 2)
    }

    @Test(
        "small stumbles: the other platform's webinar, a schedule of several sessions without --date, Import with: lines"
    )
    func stumbles() async throws {
        let ws = try await workspace(
            leads: 2,
            file: "ew.csv",
            options: ["--platform", "everwebinar", "--webinar", "7", "--schedule", "71"]
        )
        try await withSimulator { sim in
            let env = ["WEBINARJAM_API_KEY": key]
            let wrong = try await bulkreg(["webinar", "6", "--api-base", sim.baseURL], env: env)
            #expect(wrong.status == 2)
            #expect(
                wrong.stderr.contains(
                    "webinar 6 is not a webinarjam webinar, but everwebinar has one with that id: add --platform everwebinar"
                ),
                "\(wrong.stderr)"
            )
            let detail = try await bulkreg(
                ["webinar", "7", "--platform", "everwebinar", "--api-base", sim.baseURL],
                env: env
            )
            #expect(
                detail.stdout.contains(
                    "bulkreg import leads.csv --platform everwebinar --webinar 7 --schedule 71 --date \"2024-01-06 19:00\" --timezone GMT-5"
                ),
                "\(detail.stdout)"
            )
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 3)
            #expect(await sim.stats().callsByMethod["register"] == nil)
            let failed = try await bulkreg(["export", "-", "--state", "failed", "--db", ws.db])
            #expect(
                failed.stdout.contains(
                    "this schedule has several sessions (2024-01-05 19:00, 2024-01-06 19:00, 2024-01-07 19:00)"
                ),
                "\(failed.stdout)"
            )
        }
    }

    @Test("a run picks up leads imported while it goes on, and exits 0")
    func concurrentImport() async throws {
        let ws = try await workspace(leads: 80, file: "first.csv")
        try await withSimulator(latencyMs: 20...60) { sim in
            let (process, stdout, stderr) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "2", "--quiet"],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(await waitUntil(.seconds(30)) { await sim.registrations().count >= 10 })
            var more = "Email,First Name\n"
            for i in 1...30 { more += "late\(i)@example.com,Late\(i)\n" }
            let imported = try await importFile(ws, ws.write("late.csv", more), ["--webinar", "5", "--schedule", "34"])
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(await waitUntil(.seconds(60)) { !process.isRunning })
            #expect(process.terminationStatus == 0, "\(stdout.text) \(stderr.text)")
            #expect(await sim.registrations().count == 110)
            #expect(stdout.text.contains("30 imported during the run and picked up"), "\(stdout.text)")
        }
    }
}

/// Exports shaped like the CRMs' own (fixtures/crm/): each imported, run against the
/// simulator and exported, every row accounted for.
@Suite("CRM exports, end to end", .serialized)
struct CRMExportTests {
    static let crm = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/crm")

    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var args: [String] = []
        var rows: Int
        var queued: Int
        var rejected: Int
        var duplicates: Int
        var blank = 0
        var mapping: [String]
        var description: String { file }
    }

    static let cases: [Case] = [
        Case(
            file: "mailchimp.csv",
            rows: 6,
            queued: 4,
            rejected: 1,
            duplicates: 1,
            mapping: ["email ← \"Email Address\"", "ip_address ← \"OPTIN_IP\", then \"CONFIRM_IP\""]
        ),
        Case(
            file: "hubspot.csv",
            rows: 5,
            queued: 4,
            rejected: 1,
            duplicates: 0,
            mapping: ["email ← \"Email\"", "phone ← \"Phone Number\", then \"Mobile Phone Number\""]
        ),
        Case(
            file: "activecampaign.csv",
            rows: 5,
            queued: 3,
            rejected: 1,
            duplicates: 1,
            mapping: ["ip_address ← \"IP Address\""]
        ),
        Case(
            file: "kit.csv",
            rows: 5,
            queued: 4,
            rejected: 0,
            duplicates: 0,
            blank: 1,
            mapping: ["email ← \"email_address\""]
        ),
        Case(
            file: "excel-windows-fr.csv",
            args: ["--encoding", "windows-1252"],
            rows: 5,
            queued: 3,
            rejected: 1,
            duplicates: 0,
            blank: 1,
            mapping: ["email ← \"Adresse e-mail\"", "first_name ← \"Prénom\"", "last_name ← \"Nom\""]
        ),
        Case(
            file: "google-sheets.csv",
            rows: 4,
            queued: 3,
            rejected: 1,
            duplicates: 0,
            mapping: ["full_name ← \"Name\"", "phone ← \"Phone\""]
        ),
    ]

    @Test("imported, registered and exported, every row accounted for", arguments: cases)
    func roundTrip(_ c: Case) async throws {
        let ws = Workspace.e2e()
        let file = Self.crm.appendingPathComponent(c.file).path
        let imported = try await bulkreg(
            ["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db] + c.args
        )
        #expect(imported.status == 0, "\(imported.stderr)")
        let out = imported.stdout
        #expect(out.contains("\(c.rows) rows read"), "\(out)")
        #expect(out.contains("queued     \(c.queued)\n") && out.contains("rejected   \(c.rejected)\n"), "\(out)")
        #expect(out.contains("duplicate  \(c.duplicates)"), "\(out)")
        if c.blank > 0 { #expect(out.contains("blank      \(c.blank) "), "\(out)") }
        for line in c.mapping { #expect(out.contains("    " + line + "\n"), "\(line) in \(out)") }
        try await withSimulator { sim in
            let run = try await bulkreg(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "2", "--quiet"],
                env: ["WEBINARJAM_API_KEY": "e2e-key-0123456789"]
            )
            #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
            #expect(await sim.registrations().count == c.queued)
        }
        let export = try await bulkreg(["export", ws.file("out.csv"), "--excel", "--db", ws.db])
        #expect(export.status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ws.file("out.csv")))
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let status = try await bulkreg(["status", "--json", "--db", ws.db])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        let states = json["states"] as! [String: Int]
        // Every row but the blank ones is a job, and each is where it should be.
        #expect(json["total"] as? Int == c.rows - c.blank)
        #expect(states["done"] == c.queued && states["rejected"] == c.rejected && states["duplicate"] == c.duplicates)
        let plain = try await bulkreg(["export", "-", "--db", ws.db])
        let text = plain.stdout
        #expect(text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count >= c.rows - c.blank + 1)
        #expect(!text.contains("\u{FFFD}"))
        if c.file.hasPrefix("excel") {
            let decoded = String(decoding: bytes.dropFirst(3), as: UTF8.self)
            #expect(decoded.hasPrefix("Nom;Prénom;Adresse e-mail;Téléphone;Société;status;"), "\(decoded.prefix(80))")
            #expect(decoded.contains("Durand;Amélie;amelie.durand@example.com;+33 6 12 34 56 78;Café du Coin;done;"))
        }
    }
}
