import BulkReg
import Foundation
import SQLite
import TestSupport
import Testing
import WebinarSim

#if canImport(Glibc)
import Glibc
#endif

private let apiKey = "e2e-history-0123456789"

// Nested in a serialized suite, not beside every other suite at the start (two cores: its
// million-row file and its runs starved the in-process simulators of the API tests, whose 10 s
// client deadline then passed). Swift Testing runs a serialized suite's members in source
// order, files by name (as seen in CI logs): nested in a suite of a file named before this one
// (EndToEndTests.swift), these run after its own tests, as RegistrationFieldsTests do.
extension EndToEndTests {
    /// Issue 13 through the binary: the call history a run writes, `show`, `report`.
    @Suite("Call history, show and report, through the binary", .serialized)
    struct HistoryTests {
        /// (method, outcome) → rows in the history.
        func classes(_ db: String) throws -> [String: Int] {
            let connection = try Connection(.path(db))
            let q = try connection.prepare("SELECT method, outcome, count(*) FROM calls GROUP BY 1, 2")
            var out: [String: Int] = [:]
            while try q.step() {
                let method = CallMethod(rawValue: q.int(0))?.label ?? "?"
                let outcome = CallOutcome(rawValue: q.int(1))?.label ?? "?"
                out["\(method) \(outcome)"] = q.int(2)
            }
            return out
        }

        /// A database whose history holds every class: a refused key, an API host down (connection
        /// refused, then Ctrl-C), and a run against a simulator that answers 429s (limit 12/s
        /// against our 20/s), 500s, "try again later", slow answers beyond the timeout, a field
        /// error and an unknown message-only refusal. Returns the workspace and the simulator's
        /// registrations.
        func faultyHistory(leads: Int = 60) async throws -> (Workspace, Int) {
            let (ws, file) = Workspace.e2e(
                writing: "leads.csv",
                leadsCSV(count: leads, extra: ["not-an-email,Bad,Row,"])
            )
            let imported = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
            #expect(imported.status == 0, "\(imported.stderr)")
            let registered = try await withSimulator { config in
                config.duplicatePolicy = .newUser
                config.rateLimit = 12
                config.faults = SimFaults(
                    latencyMs: 5...20,
                    serverErrorRate: 0.08,
                    statusErrorRate: 0.05,
                    slowRate: 0.04,
                    slowMs: 1_500
                )
                config.faults.vendorTroubleRate = 0.08
                config.faults.fieldRefusals = ["person3@example.com": "email"]
                config.faults.refusals = ["person4@example.com": "Registration refused by the host"]
            } run: { sim in
                // The key refused: the run stops at the webinar check.
                let refused = try await bulkreg(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                    env: ["WEBINARJAM_API_KEY": "short"]
                )
                #expect(refused.status != 0 && refused.status != 3, "\(refused.stdout) \(refused.stderr)")
                // The API host down: connection refused for 7 s, then Ctrl-C.
                let (process, _, stderr) = try launchCollected(
                    ["run", "--db", ws.db, "--api-base", "http://127.0.0.1:\(try freeLoopbackPort())", "--quiet"],
                    env: ["WEBINARJAM_API_KEY": apiKey]
                )
                // Real time, in another process: its backoff between refused calls runs on its own
                // clock, and an outage needs calls spanning 5 s (nothing of it is visible from
                // here before Ctrl-C writes the history).
                try await Task.sleep(for: .seconds(7))
                kill(process.processIdentifier, SIGINT)
                #expect(await waitUntil(.seconds(30)) { !process.isRunning }, "\(stderr.text)")
                // The faulty vendor: each class once for sure, then drawn at random.
                await sim.injectFaults([.slow, .statusError, .serverError, .vendorTrouble])
                let run = try await bulkreg(
                    [
                        "run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--rate", "20", "--request-timeout",
                        "1",
                        "--settle-minimum", "2",
                    ],
                    env: ["WEBINARJAM_API_KEY": apiKey]
                )
                #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
                #expect(await sim.stats().duplicates == 0)
                return await sim.registrations().count
            }
            return (ws, registered)
        }

        @Test(
            "history rows for each answer class, and every registration the vendor stored has its successful call or check"
        )
        func everyClass() async throws {
            let (ws, registered) = try await faultyHistory()
            let rows = try classes(ws.db)
            for expected in [
                "webinar key-refused", "webinar success", "register success", "register rate-limited",
                "register vendor-trouble", "register vendor-busy", "register timeout", "register request-at-fault",
                "register unexplained", "registrants success", "registrants check found",
            ] {
                #expect((rows[expected] ?? 0) > 0, "no '\(expected)' rows: \(rows)")
            }
            #expect(rows.keys.contains { $0.hasSuffix(" unreachable") }, "\(rows)")
            // Everything the vendor stored shows as a success: a register answer or a check's "found".
            let successes = (rows["register success"] ?? 0) + (rows["registrants check found"] ?? 0)
            #expect(successes >= registered, "\(rows), \(registered) stored")
            // No email address in any reason; every row of a job belongs to an existing job.
            let connection = try Connection(.path(ws.db))
            #expect(try connection.scalarInt("SELECT count(*) FROM calls WHERE reason LIKE '%@example.com%'") == 0)
            #expect(try connection.scalarInt("SELECT count(*) FROM calls WHERE instr(reason, '\(apiKey)') > 0") == 0)
            #expect(
                try connection.scalarInt(
                    "SELECT count(*) FROM calls WHERE job_id IS NOT NULL AND job_id NOT IN (SELECT id FROM jobs)"
                ) == 0
            )
            // status: the last minute and the outage of the dead host.
            let status = try await bulkreg(["status", "--json", "--db", ws.db])
            let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let minute = json?["last_minute"] as? [String: Any]
            #expect((minute?["calls"] as? Int ?? 0) > 0, "\(status.stdout)")
            let outage = json?["last_outage"] as? [String: Any]
            #expect(outage?["ongoing"] as? Bool == false, "\(status.stdout)")
            #expect((outage?["calls"] as? Int ?? 0) >= 3, "\(status.stdout)")
            let human = try await bulkreg(["status", "--db", ws.db])
            #expect(human.stdout.contains("last minute:") && human.stdout.contains("last outage:"), "\(human.stdout)")
        }

        @Test(
            "show: a lead with a retry, an uncertain send, its checks and the final success; both webinars of an email"
        )
        func showStory() async throws {
            let (ws, file) = Workspace.e2e(
                writing: "leads.csv",
                "Email Address,First Name,City\nana@example.com,Ana,Lisbon\n"
            )
            for schedule in ["34", "46"] {
                let imported = try await bulkreg([
                    "import", file, "--webinar", "5", "--schedule", schedule, "--db", ws.db,
                ])
                #expect(imported.status == 0, "\(imported.stderr)")
            }
            try await withSimulator { sim in
                // Job 1: a 500 (it may have reached the vendor: checked, not found twice), then success.
                // Job 2: a reset before storing, the same way.
                await sim.injectFaults([.serverError, .resetBeforeStore])
                let run = try await bulkreg(
                    [
                        "run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--workers", "1",
                        "--settle-minimum",
                        "2",
                        "--request-timeout", "2",
                    ],
                    env: ["WEBINARJAM_API_KEY": apiKey]
                )
                #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
                let show = try await bulkreg(["show", "1", "--db", ws.db])
                #expect(show.status == 0, "\(show.stderr)")
                let text = show.stdout
                #expect(text.contains("job 1: done"), "\(text)")
                #expect(text.contains("leads.csv, line 2"), "\(text)")
                #expect(text.contains("City: Lisbon"), "\(text)")
                #expect(text.contains("email=ana@example.com") && text.contains("schedule=34"), "\(text)")
                let calls = text.split(separator: "\n").filter { $0.hasPrefix("    20") }
                let order = calls.map { line -> String in
                    let words = line.split(separator: " ", omittingEmptySubsequences: true)
                    return words.dropFirst().prefix(while: { !$0.hasPrefix("HTTP") && $0 != "-" }).joined(
                        separator: " "
                    )
                }
                #expect(order.first == "webinar success", "\(text)")
                #expect(order.dropFirst().first == "register vendor-trouble", "\(text)")
                #expect(
                    order.contains("register vendor-trouble") && order.contains("registrants check not-found"),
                    "\(text)"
                )
                #expect(order.last == "register success", "\(text)")
                #expect(calls.last?.contains("attempt 2") == true, "\(text)")
                #expect(text.contains("attempts: 2"), "\(text)")
                let live = await sim.registrations().first { $0.schedule == 34 }?.liveRoomURL
                #expect(live.map { text.contains($0) } == true, "\(text)")

                // By email: both jobs, each with its own story.
                let both = try await bulkreg(["show", "ANA@example.com", "--db", ws.db])
                #expect(both.status == 0)
                #expect(both.stdout.contains("job 1: done") && both.stdout.contains("job 2: done"), "\(both.stdout)")
                #expect(both.stdout.contains("schedule 46"), "\(both.stdout)")
            }
            let missing = try await bulkreg(["show", "nobody@example.com", "--db", ws.db])
            #expect(
                missing.status == 2 && missing.stderr.contains("no lead with the email nobody@example.com"),
                "\(missing.stderr)"
            )
            let noJob = try await bulkreg(["show", "999", "--db", ws.db])
            #expect(noJob.status == 2 && noJob.stderr.contains("999"), "\(noJob.stderr)")
        }

        @Test("report of an empty database: a page that says so, no chart, totals zero")
        func emptyReport() async throws {
            let ws = Workspace.e2e()
            let empty = ws.file("empty.sqlite")
            _ = try Database.open(empty, mode: .create)
            let out = ws.file("r.html")
            let report = try await bulkreg(["report", out, "--db", empty])
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: out, encoding: .utf8)
            #expect(html.contains("id=\"total\" data-count=\"0\""))
            #expect(!html.contains("class=\"chart\""))
            Self.expectSelfContained(html)
            let missing = try await bulkreg(["report", out, "--db", ws.file("none.sqlite")])
            #expect(missing.status == 2, "\(missing.stderr)")
        }

        /// No script, no fetched resource, nothing a page opened offline would miss.
        static func expectSelfContained(_ html: String) {
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            for forbidden in ["<script", "src=\"http", "href=\"http", "@import", "url(http", "<link "] {
                #expect(!html.contains(forbidden), "\(forbidden)")
            }
        }

        @Test(
            "report with failures and outages, rendered by headless Chromium: the totals of status --json, three charts"
        )
        func browserReport() async throws {
            let (ws, _) = try await faultyHistory(leads: 40)
            let out = ws.file("report.html")
            let report = try await bulkreg(["report", out, "--db", ws.db])
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: out, encoding: .utf8)
            Self.expectSelfContained(html)
            #expect(!html.contains(apiKey), "the key is in the report")
            let outages =
                html.components(separatedBy: "<h3>Outages</h3>").last?.components(separatedBy: "</section>").first ?? ""
            #expect(outages.contains("<td") && !outages.contains("None recorded."), "no outage listed: \(outages)")
            #expect(html.contains("-hatch)"), "no outage band drawn")
            #expect(html.contains("person3@example.com") && html.contains("person4@example.com"), "failed leads listed")
            let attributes = try FileManager.default.attributesOfItem(atPath: out)
            #expect((attributes[.posixPermissions] as! Int) == 0o600)

            guard let browser = Self.chromium() else {
                // CI installs it (.ci/run); a developer machine without it skips this half.
                #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI=true but no chromium on PATH")
                return
            }
            let dom = try await Self.headless(browser, ["--dump-dom", "file://" + out], in: ws)
            let status = try await bulkreg(["status", "--json", "--db", ws.db])
            let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
            let states = json["states"] as! [String: Int]
            #expect(Self.count(in: dom, id: "total") == json["total"] as? Int, "\(dom.prefix(2000))")
            for (state, count) in states {
                #expect(Self.count(in: dom, id: "state-\(state)") == count, "\(state)")
            }
            let charts = dom.components(separatedBy: "class=\"chart\"").count - 1
            #expect(charts >= 2, "\(charts) charts")
            #expect(dom.contains("role=\"img\"") && dom.contains("<title id=\"chart-rate-title\">"))
            // A screenshot the browser could draw (kept in the workspace, not committed).
            let shot = ws.file("report.png")
            _ = try await Self.headless(
                browser,
                ["--window-size=1280,3000", "--screenshot=\(shot)", "file://" + out],
                in: ws
            )
            let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
            #expect(size > 10_000, "screenshot of \(size) bytes")
            if let keep = ProcessInfo.processInfo.environment["BULKREG_KEEP_SCREENSHOT"] {
                try? FileManager.default.removeItem(atPath: keep)
                try? FileManager.default.copyItem(atPath: shot, toPath: keep)
                try? FileManager.default.copyItem(atPath: out, toPath: keep + ".html")
            }
        }

        static func chromium() -> String? {
            for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
                for name in ["chromium", "chromium-browser", "google-chrome"]
                where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
                    return dir + "/" + name
                }
            }
            return nil
        }

        /// Runs the browser headless (no network: the page needs none), for at most 90 s.
        static func headless(_ browser: String, _ args: [String], in ws: Workspace) async throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: browser)
            process.arguments =
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--user-data-dir=\(ws.file("chromium-profile"))", "--proxy-server=127.0.0.1:9",
                    "--disable-extensions",
                ] + args
            process.environment = ["HOME": ws.path, "PATH": "/usr/bin:/bin"]
            let (p, out, err) = try start(process)
            let stdout = PipeCollector(out)
            let stderr = PipeCollector(err)
            let ended = await waitUntil(.seconds(90)) { !p.isRunning }
            if !ended { p.terminate() }
            #expect(ended, "chromium did not finish: \(stderr.text.suffix(2000))")
            #expect(p.terminationStatus == 0 || !ended, "chromium: \(stderr.text.suffix(2000))")
            _ = await waitUntil(.seconds(5)) { stdout.text.contains("</html>") || !args.contains("--dump-dom") }
            return stdout.text
        }

        /// The `data-count` of the element with `id`.
        static func count(in dom: String, id: String) -> Int? {
            guard let range = dom.range(of: "id=\"\(id)\" data-count=\"") else { return nil }
            return Int(dom[range.upperBound...].prefix(while: \.isNumber))
        }

        @Test(
            "report of 1,000,000 jobs and a million calls: in bounded memory (at most 64 MB), the first 1,000 failed leads and the count"
        )
        func millionJobs() async throws {
            let ws = Workspace.e2e()
            // 1,000,000 leads through the real import, then the history a 14-hour run would leave
            // (fixtures/million-history.sql, shared with `scripts/bench --part report`).
            let file = ws.file("leads.csv")
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try handle.write(contentsOf: Data("email,first_name\n".utf8))
            var chunk = ""
            for i in 1...1_000_000 {
                chunk += "lead\(i)@example.com,Lead\(i)\n"
                if i % 50_000 == 0 {
                    try handle.write(contentsOf: Data(chunk.utf8))
                    chunk = ""
                }
            }
            try handle.close()
            let imported = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
            #expect(imported.status == 0, "\(imported.stderr)")
            let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("fixtures/million-history.sql")
            let sql = try String(contentsOf: fixture, encoding: .utf8)
            let connection = try Connection(.path(ws.db))
            try connection.transaction { try connection.execute(sql) }
            #expect(try connection.scalarInt("SELECT count(*) FROM calls") ?? 0 > 1_000_000)

            let out = ws.file("million.html")
            let (status, maxRSS) = try await Self.measured(["report", out, "--db", ws.db])
            #expect(status == 0)
            #expect(maxRSS > 1_000, "no memory reading: \(maxRSS) KiB")
            #expect(maxRSS <= 64 * 1024, "peak RSS \(maxRSS / 1024) MB")
            let html = try String(contentsOfFile: out, encoding: .utf8)
            #expect(html.contains("id=\"total\" data-count=\"1000000\""))
            #expect(html.contains("id=\"state-done\" data-count=\"989007\""))
            #expect(html.contains("The first 1,000 of 10,993"), "failed and uncertain leads counted")
            #expect(
                html.components(separatedBy: "<tr><td class=\"n\">").count - 1 <= 1_000 + 10,
                "at most 1,000 lead rows"
            )
            #expect(html.contains("10m00s") && html.contains("connection refused"), "the ten-minute outage")
            #expect(html.components(separatedBy: "class=\"chart\"").count - 1 == 3)
        }

        /// Runs `bulkreg ARGS` to its end; its exit status and peak RSS in KiB: the kernel's
        /// high-water mark of its own memory (`VmHWM` in /proc/PID/status), read every 5 ms while it
        /// runs. (`wait4`'s `ru_maxrss` would not do: a child spawned from this big test process
        /// starts with the parent's high-water mark.)
        static func measured(_ args: [String]) async throws -> (Int32, Int) {
            let (process, _, _) = try launchCollected(args)
            let path = "/proc/\(process.processIdentifier)/status"
            var peak = 0
            while process.isRunning {
                if let text = try? String(contentsOfFile: path, encoding: .utf8),
                    let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                    let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
                {
                    peak = max(peak, kib)
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            process.waitUntilExit()
            return (process.terminationStatus, peak)
        }
    }
}
