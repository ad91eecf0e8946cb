import Foundation
import TestSupport
import Testing
import WebinarSim

@Suite("bulkreg, the binary", .serialized)
struct EndToEndTests {
    let key = "e2e-key-0123456789"

    @Test("import → run → export against a faulty simulator: every valid lead registered once, URLs exported")
    func pipeline() async throws {
        let (ws, file) = Workspace.e2e(
            writing: "leads.csv",
            leadsCSV(count: 60, extra: ["bad-email,Bad,,", ",NoEmail,,", "person1@EXAMPLE.com,Dup,,"])
        )
        let imported = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("63 rows read"))
        #expect(imported.stdout.contains("queued     60"))

        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.faults = SimFaults(
                latencyMs: 5...40,
                serverErrorRate: 0.1,
                resetBeforeStoreRate: 0.05,
                resetAfterStoreRate: 0.05,
                garbageBodyRate: 0.05
            )
        } run: { sim in
            let run = try await bulkreg(
                // The margin absorbs scheduling jitter: this test shares two cores with the rest of
                // the suite, and the simulator runs in the test process.
                [
                    "run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "1", "--max-attempts", "10",
                    "--settle-minimum", "2",
                    "--rate-margin-ms", "40",
                ],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("run: 60 registered"), "\(run.stdout)")

            let stats = await sim.stats()
            #expect(stats.duplicates == 0)
            // The window and 429 counts are checked where the simulator runs in its own process
            // (scripts/crash-test, scripts/bench): here it shares the test process with the
            // other suites, and its arrival times carry their scheduling delays. 429s, if any,
            // must have cost nothing: everyone registered once (above and below).
            #expect(stats.maxAcceptedCallsInWindow <= 20)
            let registrations = await sim.registrations()
            #expect(Set(registrations.map { $0.email.lowercased() }).count == 60)
            #expect(registrations.count == 60)

            let export = try await bulkreg(["export", "-", "--db", ws.db])
            #expect(export.status == 0)
            let rows = csvRows(export.stdout)
            #expect(rows.count == 64)
            let header = rows[0]
            let status = header.firstIndex(of: "status")!
            let live = header.firstIndex(of: "live_room_url")!
            let byEmail = Dictionary(
                registrations.map { ($0.email.lowercased(), $0.liveRoomURL) },
                uniquingKeysWith: { a, _ in a }
            )
            for row in rows.dropFirst() where row[status] == "done" {
                #expect(byEmail[row[0].lowercased()] == row[live])
            }
            #expect(rows.dropFirst().filter { $0[status] == "done" }.count == 60)
            #expect(rows.dropFirst().filter { $0[status] == "rejected" }.count == 2)
            #expect(
                rows.dropFirst().filter { $0[status].hasPrefix("duplicate of job ") && $0[status].hasSuffix(": done") }
                    .count == 1
            )

            let status2 = try await bulkreg(["status", "--json", "--db", ws.db])
            let json = try JSONSerialization.jsonObject(with: Data(status2.stdout.utf8)) as! [String: Any]
            #expect(json["total"] as? Int == 63)
            #expect((json["states"] as? [String: Int])?["done"] == 60)
        }
    }

    @Test("exit codes: usage 2, missing file 2, refused key 2 with jobs kept, failed leads 3")
    func exitCodes() async throws {
        let ws = Workspace.e2e()
        #expect(try await bulkreg(["import"]).status == 2)
        #expect(try await bulkreg(["run", "--workers", "0"]).status == 2)
        let encoding = try await bulkreg([
            "import", "x.csv", "--webinar", "5", "--schedule", "34", "--encoding", "ebcdic",
        ])
        #expect(
            encoding.status == 2
                && encoding.stderr.contains("'ebcdic' is invalid for '--encoding <encoding>': expected auto, utf-8")
        )
        let missing = try await bulkreg([
            "import", ws.file("nope.csv"), "--webinar", "5", "--schedule", "34", "--db", ws.db,
        ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.csv"))
        #expect(!FileManager.default.fileExists(atPath: ws.db))

        let file = ws.write("leads.csv", leadsCSV(count: 5))
        #expect(try await bulkreg(["import", file, "--webinar", "2", "--schedule", "21", "--db", ws.db]).status == 0)
        try await withSimulator { sim in
            let noKey = try await bulkreg(["run", "--db", ws.db, "--api-base", sim.baseURL])
            #expect(noKey.status == 2)
            #expect(noKey.stderr.contains("WEBINARJAM_API_KEY"))
            let bad = try await bulkreg(
                ["run", "--db", ws.db, "--api-base", sim.baseURL],
                env: ["WEBINARJAM_API_KEY": "short"]
            )
            #expect(bad.status == 2, "\(bad.stderr)")
            #expect(bad.stderr.contains("API key was refused"))
            let status = try await bulkreg(["status", "--json", "--db", ws.db])
            #expect(status.stdout.contains("\"queued\":5"))
            // Webinar 2 requires a phone country code: every lead is rejected by the API → exit 3.
            let run = try await bulkreg(
                ["run", "--db", ws.db, "--api-base", sim.baseURL],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
            let failed = try await bulkreg(["export", "-", "--state", "failed", "--db", ws.db])
            #expect(csvRows(failed.stdout).count == 6)
            // retry puts them back.
            let retry = try await bulkreg(["retry", "--db", ws.db])
            #expect(retry.status == 0)
            #expect(retry.stdout.contains("5 jobs back in the queue"))
        }
    }

    @Test("plain http is refused unless it goes to a loopback host")
    func httpRefused() async throws {
        let ws = try await workspace(leads: 1)
        let run = try await bulkreg(
            ["run", "--db", ws.db, "--api-base", "http://api.example.com"],
            env: ["WEBINARJAM_API_KEY": key]
        )
        #expect(run.status == 2)
        #expect(run.stderr.contains("--api-base"))
    }

    @Test("one runner per database; SIGINT stops cleanly with 130, SIGTERM with 143")
    func lockAndSignals() async throws {
        for (signal, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let ws = try await workspace(leads: 400)
            try await withSimulator(latencyMs: 50...100) { sim in
                let (process, out, err) = try launch(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                    env: ["WEBINARJAM_API_KEY": key]
                )
                let started = await waitUntil { await sim.stats().successfulRegisterCalls >= 5 }
                #expect(started)
                let second = try await bulkreg(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL],
                    env: ["WEBINARJAM_API_KEY": key]
                )
                #expect(second.status == 2)
                #expect(second.stderr.contains("pid \(process.processIdentifier)"), "\(second.stderr)")
                kill(process.processIdentifier, signal)
                let stopped = await finish(process, out, err)
                #expect(stopped.status == code, "\(stopped.stderr)")
                #expect(stopped.stdout.contains("left in the queue"))
                // Nothing half-done: every call the simulator stored is `done` in the database.
                let registered = await sim.stats().successfulRegisterCalls
                let status = try await bulkreg(["status", "--json", "--db", ws.db])
                let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
                let states = json["states"] as! [String: Int]
                #expect(states["done"] == registered)
                #expect(states["in_flight"] == 0)
                #expect(states["done"]! + states["queued"]! == 400)
            }
        }
    }

    @Test("sim, webinars, webinar and link from the command line")
    func discovery() async throws {
        let (sim, out, err) = try launch(["sim", "--port", "0"])
        let text = await firstLine(out)
        #expect(text.hasPrefix("bulkreg sim listening on http://127.0.0.1:"))
        let base = String(text.split(separator: " ")[4])
        let env = ["WEBINARJAM_API_KEY": key]
        let list = try await bulkreg(["webinars", "--api-base", base], env: env)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("webinarjam") && list.stdout.contains("everwebinar"))
        let one = try await bulkreg(["webinar", "6", "--platform", "everwebinar", "--api-base", base], env: env)
        #expect(one.stdout.contains("Instant replay") && one.stdout.contains("56"))
        let link = try await bulkreg(
            ["link", "--webinar", "5", "--autoresponder", "mailchimp", "--session", "2", "--api-base", base],
            env: env
        )
        #expect(link.status == 0, "\(link.stderr)")
        #expect(link.stdout.hasPrefix("https://event.webinarjam.com/register/1click/5/pqrs7890?first_name=*|FNAME|*"))
        #expect(link.stdout.contains("schedule_id=2"))
        #expect(link.stderr.contains("API schedule 46"))
        let refused = try await bulkreg(
            [
                "link", "--webinar", "6", "--platform", "everwebinar", "--autoresponder", "kartra", "--session", "1",
                "--api-base", base,
            ],
            env: env
        )
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("instant-replay"))
        sim.terminate()
        let ended = await finish(sim, out, err)
        #expect(ended.status == 0 || ended.status == 143 || ended.status == 15)
    }

    @Test("the API key appears nowhere: database, WAL, logs, stderr, export, process arguments")
    func secrets() async throws {
        let ws = Workspace.e2e()
        let secret = "SECRET-KEY-\(UUID().uuidString)"
        let keyFile = ws.write("key.txt", secret + "\n")
        chmod(keyFile, 0o600)
        let file = ws.write("leads.csv", leadsCSV(count: 20, extra: ["bad,Bad,,"]))
        try await withSimulator {
            $0.faults = SimFaults(latencyMs: 1...5, serverErrorRate: 0.2, statusErrorRate: 0.1)
        } run: { sim in
            var outputs: [String] = []
            let imported = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
            outputs += [imported.stdout, imported.stderr]
            let (process, out, err) = try launch(
                [
                    "run", "--db", ws.db, "--api-base", sim.baseURL, "--api-key-file", keyFile, "--verbose",
                    "--max-attempts", "3",
                    "--request-timeout", "2", "--settle-minimum", "2",
                ])
            let cmdline =
                (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/cmdline", encoding: .utf8)) ?? ""
            outputs.append(cmdline)
            let run = await finish(process, out, err)
            outputs += [run.stdout, run.stderr]
            #expect(outputs.last!.contains("bulkreg.api"), "verbose logging should be on")
            for args in [
                ["status", "--db", ws.db], ["status", "--json", "--db", ws.db],
                ["export", ws.file("out.csv"), "--db", ws.db],
            ] {
                let o = try await bulkreg(args)
                outputs += [o.stdout, o.stderr]
            }
            outputs.append(try String(contentsOfFile: ws.file("out.csv"), encoding: .utf8))
            for text in outputs { #expect(!text.contains(secret)) }
            // Every file, the key's shared budget under state/ included.
            var budgets = 0
            for name in FileManager.default.subpaths(atPath: ws.path) ?? [] where name != "key.txt" {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: ws.file(name), isDirectory: &isDirectory),
                    !isDirectory.boolValue
                else { continue }
                if name.hasSuffix(".budget") { budgets += 1 }
                let data = try Data(contentsOf: URL(fileURLWithPath: ws.file(name)))
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(name) holds the key")
            }
            #expect(budgets == 1)
            // The database, its lock and the export are private.
            for name in ["e2e.sqlite", "e2e.sqlite.lock", "out.csv"] {
                let mode = try FileManager.default.attributesOfItem(atPath: ws.file(name))[.posixPermissions] as! Int
                #expect(mode & 0o077 == 0, "\(name) mode \(String(mode, radix: 8))")
            }
        }
    }

    @Test("a key file readable by others is used, with a warning")
    func keyFileWarning() async throws {
        let ws = Workspace.e2e()
        let keyFile = ws.write("key.txt", key)
        chmod(keyFile, 0o644)
        try await withSimulator { sim in
            let o = try await bulkreg(["webinars", "--api-base", sim.baseURL, "--api-key-file", keyFile])
            #expect(o.status == 0)
            #expect(o.stderr.contains("chmod 600"))
        }
    }
}
