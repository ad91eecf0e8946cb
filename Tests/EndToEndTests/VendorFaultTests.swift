import BulkReg
import Foundation
import SQLite
import Synchronization
import TestSupport
import Testing
import WebinarSim

#if canImport(Glibc)
import Glibc
#endif

private let apiKey = "e2e-vendor-faults-0123456789"

/// Issues 10 and 16 through the binary against `bulkreg sim`: answers judged by their
/// evidence, and nobody registered twice on any path.
@Suite("Vendor faults, through the binary", .serialized)
struct VendorFaultTests {
    func run(_ ws: Workspace, _ sim: RunningSimulator, _ extra: [String] = []) async throws -> Outcome {
        try await bulkreg(
            ["run", "--db", ws.db, "--api-base", sim.baseURL, "--rate-margin-ms", "40", "--quiet"] + extra,
            env: ["WEBINARJAM_API_KEY": apiKey]
        )
    }

    /// Every person registered exactly once at the simulator, and the export carries the
    /// simulator's own URLs for each.
    func expectExactlyOnce(_ ws: Workspace, _ sim: RunningSimulator, persons: Int) async throws {
        let registrations = await sim.registrations()
        let stats = await sim.stats()
        #expect(stats.duplicates == 0, "\(stats.duplicates) registered twice")
        #expect(registrations.count == persons, "\(registrations.count) registrations for \(persons) persons")
        let byEmail = Dictionary(grouping: registrations, by: { $0.email.lowercased() })
        let export = try await bulkreg(["export", "-", "--db", ws.db, "--state", "done"])
        let rows = csvRows(export.stdout)
        #expect(rows.count == persons + 1, "\(export.stdout)")
        guard let header = rows.first, let email = header.firstIndex(of: "Email Address"),
            let live = header.firstIndex(of: "live_room_url")
        else { return }
        for row in rows.dropFirst() {
            #expect(byEmail[row[email].lowercased()]?.first?.liveRoomURL == row[live], "\(row[email])")
        }
    }

    @Test(
        "(a) 20% 'try again later' on every method, the first webinar check among them: every lead done, ≤ 1.35 calls a lead"
    )
    func tryAgainLater() async throws {
        let ws = try await workspace(leads: 120)
        try await withSimulator { config in
            config.faults = SimFaults(latencyMs: 5...30, methods: Set(SimMethod.allCases))
            config.faults.vendorTroubleRate = 0.2
        } run: { sim in
            await sim.injectFaults([.vendorTrouble])  // the first call is the webinar check
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            try await expectExactlyOnce(ws, sim, persons: 120)
            let stats = await sim.stats()
            // 429s are the shared CPU's jitter (the simulator runs in the test process beside the
            // other suites), not the policy's calls: they are left out of the count.
            #expect(
                Double(stats.totalCalls - stats.rateLimited) / 120 <= 1.35,
                "\(stats.totalCalls) calls, \(stats.rateLimited) × 429"
            )
        }
    }

    @Test("(b) 10% 408/504/520 pages plus resets after storing, 4 SIGKILLs: every lead done exactly once")
    func proxyPagesAndKills() async throws {
        let ws = try await workspace(leads: 150)
        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.faults = SimFaults(latencyMs: 10...60, resetAfterStoreRate: 0.05)
            config.faults.proxyPageRate = 0.1
            config.faults.proxyPageStatuses = [408, 504, 520]
        } run: { sim in
            let args = [
                "run", "--db", ws.db, "--api-base", sim.baseURL, "--rate-margin-ms", "40", "--quiet",
                "--request-timeout", "2", "--settle-minimum", "2",
            ]
            for kill in 1...4 {
                let (process, _, _) = try launchCollected(args, env: ["WEBINARJAM_API_KEY": apiKey])
                try await Task.sleep(for: .milliseconds(700 + 300 * kill))
                Glibc.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let outcome = try await run(ws, sim, ["--request-timeout", "2", "--settle-minimum", "2"])
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            try await expectExactlyOnce(ws, sim, persons: 150)
        }
    }

    @Test("(c) a webinar check answered not-found once, then correctly: the target's leads are registered")
    func webinarNotFoundOnce() async throws {
        let ws = try await workspace(leads: 10)
        try await withSimulator {
            $0.faults.webinarNotFoundFirst = 1
        } run: { sim in
            let outcome = try await run(ws, sim)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            try await expectExactlyOnce(ws, sim, persons: 10)
            #expect(await sim.stats().callsByMethod["webinar"] == 2)
        }
    }

    @Test("(d) registrants checks failing for 2 minutes: the jobs stay uncertain, then done when checks answer")
    func registrantsDown() async throws {
        let ws = try await workspace(leads: 40)
        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.faults.registrantsDownS = 120
        } run: { sim in
            await sim.injectFaults([.resetAfterStore, .resetAfterStore, .resetAfterStore])
            let (process, stdout, stderr) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "2", "--settle-minimum", "2"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            // Meanwhile the three are uncertain, never failed (polled: the run is another process).
            var status = try await bulkreg(["status", "--json", "--db", ws.db])
            _ = await waitUntil(.seconds(60)) {
                status = (try? await bulkreg(["status", "--json", "--db", ws.db])) ?? status
                return status.stdout.contains("\"done\":37")
            }
            #expect(status.stdout.contains("\"uncertain\":3"), "\(status.stdout)")
            #expect(status.stdout.contains("\"failed\":0"), "\(status.stdout)")
            #expect(await waitUntil(.seconds(240)) { !process.isRunning })
            #expect(process.terminationStatus == 0, "\(stdout.text) \(stderr.text)")
            try await expectExactlyOnce(ws, sim, persons: 40)
            #expect((await sim.stats().faultsInjected["registrantsDown"] ?? 0) > 3)
        }
    }

    @Test("(e) a field error fails after 1 call; an unknown message-only error after 3 calls, with the vendor's words")
    func refusals() async throws {
        let ws = try await workspace(leads: 5)
        try await withSimulator { config in
            config.faults.fieldRefusals = ["person2@example.com": "email"]
            config.faults.refusals = ["person4@example.com": "Registration refused by the host"]
        } run: { sim in
            let outcome = try await run(ws, sim, ["--max-attempts", "6"])
            #expect(outcome.status == 3)
            let stats = await sim.stats()
            #expect(stats.registerCallsByPerson["person2@example.com"] == nil)
            let failed = try await bulkreg(["export", "-", "--state", "failed", "--db", ws.db])
            let rows = csvRows(failed.stdout)
            #expect(rows.count == 3, "\(failed.stdout)")
            let header = rows[0]
            let attempts = header.firstIndex(of: "attempts")!
            let error = header.firstIndex(of: "error")!
            let email = header.firstIndex(of: "Email Address")!
            for row in rows.dropFirst() {
                if row[email] == "person2@example.com" {
                    #expect(row[attempts] == "1")
                    #expect(row[error].contains("email"))
                } else {
                    #expect(row[attempts] == "3")
                    #expect(row[error] == "Registration refused by the host")
                }
            }
            try await expectExactlyOnceDone(sim, persons: 3)
        }
    }

    func expectExactlyOnceDone(_ sim: RunningSimulator, persons: Int) async throws {
        #expect(await sim.registrations().count == persons)
        #expect(await sim.stats().duplicates == 0)
    }

    // MARK: issue 16

    @Test("slow storing: the vendor stores after the client gave up; with kills, nobody is registered twice")
    func slowStoring() async throws {
        let ws = try await workspace(leads: 60)
        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.faults = SimFaults(latencyMs: 5...20, slowRate: 0.25, slowMs: 2_500)
        } run: { sim in
            let args = ["--request-timeout", "1", "--settle-minimum", "4"]
            for _ in 1...2 {
                let (process, _, _) = try launchCollected(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"] + args,
                    env: ["WEBINARJAM_API_KEY": apiKey]
                )
                try await Task.sleep(for: .milliseconds(1_500))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let outcome = try await run(ws, sim, args)
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            try await expectExactlyOnce(ws, sim, persons: 60)
        }
    }

    @Test("deep registrants lists, search ignored, 10 rows a page: the check reads every page")
    func deepLists() async throws {
        let ws = try await workspace(leads: 300)
        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.ignoreSearch = true
            config.registrantsPerPage = 10
            config.faults = SimFaults(resetAfterStoreRate: 0.05)
        } run: { sim in
            let outcome = try await run(ws, sim, ["--request-timeout", "2", "--settle-minimum", "2"])
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            try await expectExactlyOnce(ws, sim, persons: 300)
            #expect((await sim.stats().callsByMethod["registrants"] ?? 0) > 20)
        }
    }

    @Test("a second runner is refused: via a symlink (one lock per real path), or by the lease with no lock file")
    func secondRunner() async throws {
        let ws = try await workspace(leads: 60)
        try await withSimulator(latencyMs: 100...200) { sim in
            let (process, _, _) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            #expect(await waitUntil(.seconds(20)) { (await sim.stats().successfulRegisterCalls) > 2 })
            let link = ws.file("link.sqlite")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: ws.db)
            let viaLink = try await bulkreg(
                ["run", "--db", link, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            #expect(viaLink.status == 2, "\(viaLink.stderr)")
            // The run lock is taken on the database's real path: a symlink shares it.
            #expect(
                viaLink.stderr.contains(
                    "another bulkreg is working on this database (pid \(process.processIdentifier)"
                ),
                "\(viaLink.stderr)"
            )
            try FileManager.default.removeItem(atPath: ws.db + ".lock")
            let noLock = try await bulkreg(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            #expect(noLock.status == 2, "\(noLock.stderr)")
            #expect(noLock.stderr.contains("another bulkreg is running on this database"))
            let retry = try await bulkreg(["retry", "--db", ws.db])
            #expect(retry.status == 2 && retry.stderr.contains("a run is in progress"), "\(retry.stderr)")
            #expect(await waitUntil(.seconds(60)) { !process.isRunning })
            #expect(process.terminationStatus == 0)
            try await expectExactlyOnce(ws, sim, persons: 60)
            #expect(await sim.stats().maxAcceptedCallsInWindow <= 20)
        }
    }

    @Test("retry and retry --job of possibly-sent jobs: checked first, never re-sent blind; --force is explicit")
    func retryPossiblySent() async throws {
        let ws = try await workspace(leads: 4)
        try await withSimulator { sim in
            #expect(try await run(ws, sim).status == 0)
            // Job 1 left uncertain, job 2 failed after a call that may have registered it (both
            // are registered at the vendor).
            do {
                let c = try Connection(.path(ws.db))
                try c.execute("UPDATE jobs SET state = 'uncertain', maybe_sent = 1, sent_at = 1 WHERE id = 1")
                try c.execute(
                    "UPDATE jobs SET state = 'failed', maybe_sent = 1, error = 'could not check whether the earlier call registered this lead' WHERE id = 2"
                )
            }
            let one = try await bulkreg(["retry", "--job", "1", "--db", ws.db])
            #expect(one.status == 2)
            #expect(one.stderr.contains("--force"), "\(one.stderr)")
            let all = try await bulkreg(["retry", "--db", ws.db])
            #expect(all.status == 0)
            #expect(all.stdout.contains("1 to be checked with the vendor first"), "\(all.stdout)")
            let again = try await run(ws, sim, ["--settle-minimum", "0", "--request-timeout", "1"])
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
            #expect(again.stdout.contains("2 found already registered"), "\(again.stdout)")
            try await expectExactlyOnce(ws, sim, persons: 4)
            // --force: the user's explicit decision, said out loud.
            do {
                let c = try Connection(.path(ws.db))
                try c.execute("UPDATE jobs SET state = 'uncertain', maybe_sent = 1 WHERE id = 3")
            }
            let forced = try await bulkreg(["retry", "--job", "3", "--force", "--db", ws.db])
            #expect(forced.status == 0)
            #expect(forced.stderr.contains("registered twice"), "\(forced.stderr)")
        }
    }

    @Test("one person in two EverWebinar sessions, with resets: each session registered once, with its own links")
    func twoSessions() async throws {
        let ws = Workspace.e2e()
        var text = "Email Address,First Name,Last Name,date\n"
        for i in 1...10 {
            text += "person\(i)@example.com,P\(i),T,2024-01-05 19:00\nperson\(i)@example.com,P\(i),T,2024-01-06 19:00\n"
        }
        let file = ws.write("ew.csv", text)
        let imported = try await bulkreg(
            ["import", file, "--platform", "everwebinar", "--webinar", "7", "--schedule", "71", "--db", ws.db])
        #expect(imported.status == 0, "\(imported.stdout) \(imported.stderr)")
        try await withSimulator { config in
            config.duplicatePolicy = .newUser
            config.registrantsDates = true
            config.faults = SimFaults(resetAfterStoreRate: 0.3)
        } run: { sim in
            let outcome = try await run(ws, sim, ["--request-timeout", "2", "--settle-minimum", "2"])
            #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
            let registrations = await sim.registrations()
            #expect(registrations.count == 20)
            #expect(await sim.stats().duplicates == 0)
            let export = try await bulkreg(["export", "-", "--db", ws.db])
            let rows = csvRows(export.stdout)
            let h = rows[0]
            let (email, date, live) = (
                h.firstIndex(of: "Email Address")!, h.firstIndex(of: "date")!, h.firstIndex(of: "live_room_url")!
            )
            for row in rows.dropFirst() {
                let own = registrations.first { $0.email == row[email] && $0.date == row[date] }
                #expect(own?.liveRoomURL == row[live], "\(row[email]) \(row[date])")
            }
        }
    }

    @Test(
        "the same, when the vendor's rows carry no date: an ambiguous check proves nothing; the job stays uncertain, said why"
    )
    func twoSessionsUndated() async throws {
        let ws = Workspace.e2e()
        let text =
            "Email Address,First Name,Last Name,date\np@example.com,P,T,2024-01-05 19:00\np@example.com,P,T,2024-01-06 19:00\n"
        let file = ws.write("ew.csv", text)
        _ = try await bulkreg([
            "import", file, "--platform", "everwebinar", "--webinar", "7", "--schedule", "71", "--db", ws.db,
        ])
        try await withSimulator {
            $0.duplicatePolicy = .newUser
        } run: { sim in
            await sim.injectFaults([.resetAfterStore])
            let outcome = try await run(ws, sim, ["--request-timeout", "2", "--settle-minimum", "1"])
            #expect(outcome.status == 3, "\(outcome.stdout) \(outcome.stderr)")
            #expect(outcome.stderr.contains("could not be checked yet"))
            #expect(await sim.registrations().count == 2)
            let uncertain = try await bulkreg(["export", "-", "--state", "uncertain", "--db", ws.db])
            #expect(uncertain.stdout.contains("cannot be told apart"), "\(uncertain.stdout)")
        }
    }

    @Test("every call slower than the request timeout: the run backs off and says so; no loop")
    func everyCallTimesOut() async throws {
        let ws = try await workspace(leads: 200)
        try await withSimulator(latencyMs: 2_500...2_500) { sim in
            let (process, _, stderr) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--request-timeout", "1"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            let said = await waitUntil(.seconds(40)) {
                stderr.text.contains("the API answers slower than --request-timeout")
            }
            #expect(said, "\(stderr.text)")
            try await Task.sleep(for: .seconds(5))
            kill(process.processIdentifier, SIGINT)
            #expect(await waitUntil(.seconds(20)) { !process.isRunning })
            // A loop would have sent hundreds of calls; the run paused after a few timeouts.
            let calls = await sim.stats().totalCalls
            #expect(calls < 90, "\(calls) calls")
        }
    }

    @Test("a store stalled 3 s by another writer: calls take fresh slots, no second with more than 20 calls")
    func stalledStore() async throws {
        let ws = try await workspace(leads: 200)
        try await withSimulator(latencyMs: 20...60) { sim in
            let (process, _, _) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--rate-margin-ms", "60"],
                env: ["WEBINARJAM_API_KEY": apiKey]
            )
            #expect(await waitUntil(.seconds(20)) { (await sim.stats().successfulRegisterCalls) > 40 })
            // Another writer (an import, a sqlite3 shell) holds the write lock for 3 s.
            let blocker = try Connection(.path(ws.db))
            try blocker.execute("BEGIN IMMEDIATE")
            try await Task.sleep(for: .seconds(3))
            try blocker.execute("COMMIT")
            #expect(await waitUntil(.seconds(60)) { !process.isRunning })
            #expect(process.terminationStatus == 0)
            let stats = await sim.stats()
            #expect(stats.maxCallsInWindow <= 20, "\(stats.maxCallsInWindow) calls in one second")
            #expect(stats.rateLimited == 0)
            try await expectExactlyOnce(ws, sim, persons: 200)
        }
    }
}
