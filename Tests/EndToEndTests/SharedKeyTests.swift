import Foundation
import SQLite
import TestSupport
import Testing
import WebinarSim

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Several bulkreg processes on one API key, through the binary, against one simulator: one
/// budget of 20 calls a second for all of them (SPEC "Limit").
@Suite(.serialized) struct SharedKeyTests {
    let key = "e2e-shared-key-0123456789"
    static let targets = [("5", "34"), ("3", "31"), ("4", "41")]

    /// Imports `count` leads of their own into `db`, for target `index`.
    func prepare(_ ws: Workspace, _ index: Int, count: Int) async throws -> String {
        let db = ws.file("run\(index).sqlite")
        var text = "Email Address,First Name\n"
        for i in 1...count { text += "r\(index)-person\(i)@example.com,P\(i)\n" }
        let file = ws.write("leads\(index).csv", text)
        let (webinar, schedule) = Self.targets[index]
        let imported = try await bulkreg(["import", file, "--webinar", webinar, "--schedule", schedule, "--db", db])
        try #require(imported.status == 0, "\(imported.stderr)")
        return db
    }

    /// The wall-clock completion times of a database's registrations.
    func completions(_ db: String) throws -> [Double] {
        let connection = try Connection(.path(db))
        let statement = try connection.prepare("SELECT registered_at FROM results ORDER BY registered_at")
        var times: [Double] = []
        while try statement.step() { times.append(statement.double(0)) }
        return times
    }

    /// The simulator in a process of its own: its clock stamps arrivals as they come, whatever
    /// the load of this test process (an in-process simulator shares the test's threads, and a
    /// busy moment there bunches arrivals into one "second" that the runs never sent).
    struct SimProcess {
        let baseURL: String
        func stats() async throws -> SimulatorStats {
            let (data, _) = try await URLSession.shared.data(from: URL(string: baseURL + "/__sim/stats")!)
            return try JSONDecoder().decode(SimulatorStats.self, from: data)
        }
    }

    func withSimulatorProcess<T>(_ body: (SimProcess) async throws -> T) async throws -> T {
        let (process, out, err) = try launch(["sim", "--port", "0", "--latency-ms", "50-150"])
        let line = await firstLine(out)
        guard line.hasPrefix("bulkreg sim listening on ") else {
            process.terminate()
            throw SimStartError(line: line)
        }
        let sim = SimProcess(baseURL: String(line.split(separator: " ")[4]))
        do {
            let value = try await body(sim)
            process.terminate()
            _ = await finish(process, out, err)
            return value
        } catch {
            process.terminate()
            _ = await finish(process, out, err)
            throw error
        }
    }

    struct SimStartError: Error { var line: String }

    /// `bulkreg webinars` every 2 s until cancelled; returns how many ran and how many failed.
    func webinarsMeanwhile(_ sim: SimProcess, env: [String: String]) -> Task<(Int, [String]), Never> {
        Task {
            var runs = 0
            var failures: [String] = []
            while !Task.isCancelled {
                if let outcome = try? await bulkreg(
                    ["webinars", "--platform", "webinarjam", "--api-base", sim.baseURL],
                    env: env
                ) {
                    runs += 1
                    if outcome.status != 0 { failures.append(outcome.stderr) }
                }
                try? await Task.sleep(for: .seconds(2))
            }
            return (runs, failures)
        }
    }

    /// A margin that absorbs a debug build's scheduling jitter on a busy CI machine (as the
    /// crash test's 60 ms): these tests prove the limit and the sharing; the rate the default
    /// 10 ms margin reaches is `scripts/bench --part shared`'s to measure (BENCHMARKS.md).
    static let margin = ["--rate-margin-ms", "30"]

    @Test("two, then three runs on one key: 0 × 429, ≤ 20 in any second, the key's rate together, equal shares")
    func runsShareTheKey() async throws {
        // One after the other: the simulator's count of a second must see only these runs.
        try await runsShareTheKey(runs: 2)
        try await runsShareTheKey(runs: 3)
    }

    func runsShareTheKey(runs: Int) async throws {
        let ws = Workspace.e2e()
        let env = ["WEBINARJAM_API_KEY": key, "XDG_STATE_HOME": ws.file("state")]
        let perRun = runs == 2 ? 220 : 150
        var dbs: [String] = []
        for i in 0..<runs { dbs.append(try await prepare(ws, i, count: perRun)) }
        try await withSimulatorProcess { sim in
            let processes = try dbs.map {
                try launch(["run", "--db", $0, "--api-base", sim.baseURL, "--quiet"] + Self.margin, env: env)
            }
            let webinars = webinarsMeanwhile(sim, env: env)
            // While they run, each one's status names the others on its key.
            let going = await waitUntil { ((try? await sim.stats())?.successfulRegisterCalls ?? 0) >= 40 }
            #expect(going)
            let status = try await bulkreg(["status", "--json", "--db", dbs[0]], env: env)
            let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let shared = (json?["shared_with"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String }
            for db in dbs.dropFirst() {
                #expect(
                    shared.contains { $0.hasSuffix((db as NSString).lastPathComponent) },
                    "status: \(status.stdout)"
                )
            }
            let human = try await bulkreg(["status", "--db", dbs[0]], env: env)
            #expect(human.stdout.contains("its API key is shared now with"), "\(human.stdout)")

            var outcomes: [Outcome] = []
            for (process, out, err) in processes { outcomes.append(await finish(process, out, err)) }
            webinars.cancel()
            let (webinarRuns, webinarFailures) = await webinars.value
            for outcome in outcomes { #expect(outcome.status == 0, "\(outcome.stderr)") }
            #expect(webinarRuns >= 3 && webinarFailures.isEmpty, "\(webinarFailures)")

            let stats = try await sim.stats()
            #expect(stats.rateLimited == 0)
            #expect(stats.maxCallsInWindow <= 20)
            #expect(stats.duplicates == 0)
            #expect(stats.successfulRegisterCalls == runs * perRun)
            #expect(stats.totalRegistrations == runs * perRun)
            // Together at the key's rate, 20 / 1.03 s = 19.4 calls/s here (not a timing target:
            // a bound that a budget not shared, or not filled, misses by far).
            let combined = Double(stats.callsInRegisterSpan - 1) / stats.registerSpanSeconds
            #expect(combined >= 18.5, "combined \(combined) calls/s over \(stats.registerSpanSeconds) s")

            // Shares while all of them run: each within ±15% of an equal one.
            let times = try dbs.map { try completions($0) }
            for t in times { #expect(t.count == perRun) }
            let from = times.map { $0.first ?? 0 }.max()!
            let to = times.map { $0.last ?? 0 }.min()!
            #expect(to - from >= 5, "the runs overlapped \(to - from) s only")
            let shares = times.map { t in t.filter { $0 >= from && $0 <= to }.count }
            let equal = Double(shares.reduce(0, +)) / Double(runs)
            for share in shares {
                #expect(abs(Double(share) - equal) <= 0.15 * equal, "shares \(shares) while all ran")
            }
        }
    }

    @Test("a run killed mid-drain stalls the other at most 1 s; its successor keeps out of its last second")
    func killedRun() async throws {
        let ws = Workspace.e2e()
        let env = ["WEBINARJAM_API_KEY": key, "XDG_STATE_HOME": ws.file("state")]
        let a = try await prepare(ws, 0, count: 200)
        let b = try await prepare(ws, 1, count: 300)
        try await withSimulatorProcess { sim in
            let options =
                ["--api-base", sim.baseURL, "--quiet", "--request-timeout", "2", "--settle-minimum", "2"] + Self.margin
            let (victim, vOut, vErr) = try launch(["run", "--db", a] + options, env: env)
            let (other, oOut, oErr) = try launch(["run", "--db", b] + options, env: env)
            let going = await waitUntil { ((try? await sim.stats())?.successfulRegisterCalls ?? 0) >= 80 }
            #expect(going)
            kill(victim.processIdentifier, SIGKILL)
            let killedAt = Date().timeIntervalSince1970
            _ = await finish(victim, vOut, vErr)
            // Its successor at once: the dead run's last calls are in the key's log.
            let successor = try await bulkreg(["run", "--db", a] + options, env: env)
            #expect(successor.status == 0, "\(successor.stderr)")
            let survivor = await finish(other, oOut, oErr)
            #expect(survivor.status == 0, "\(survivor.stderr)")

            let stats = try await sim.stats()
            #expect(stats.rateLimited == 0)
            #expect(stats.maxCallsInWindow <= 20)
            #expect(stats.duplicates == 0)
            #expect(stats.totalRegistrations == 500)
            // The survivor's longest pause around the kill.
            let times = try completions(b)
            #expect(times.count == 300)
            let around = times.filter { $0 >= killedAt - 2 && $0 <= killedAt + 5 }
            let gap = zip(around, around.dropFirst()).map { $1 - $0 }.max() ?? 0
            #expect(gap <= 1.0, "the survivor stalled \(gap) s after the kill")
            let export = try await bulkreg(["export", "-", "--db", a])
            #expect(csvRows(export.stdout).dropFirst().allSatisfy { $0.contains("done") })
        }
    }

    @Test("the state directory holds no key, its file is 0600; an unusable directory is said once and the run goes on")
    func stateDirectory() async throws {
        let ws = Workspace.e2e()
        let state = ws.file("state")
        let env = ["WEBINARJAM_API_KEY": key, "XDG_STATE_HOME": state]
        let db = try await prepare(ws, 0, count: 10)
        try await withSimulatorProcess { sim in
            let run = try await bulkreg(["run", "--db", db, "--api-base", sim.baseURL, "--quiet"], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            let dir = state + "/bulkreg"
            let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            #expect(names.count == 1 && names[0].hasSuffix(".budget") && names[0].count == 64 + 7, "\(names)")
            for name in names {
                let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
                #expect(data.range(of: Data(key.utf8)) == nil, "the key is in \(name)")
                #expect(!name.contains(key))
                let mode = try FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.posixPermissions] as? Int
                #expect(mode == 0o600)
            }
            let dirMode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
            #expect(dirMode == 0o700)

            // A state "directory" that is a file (root may write anywhere; this it cannot use).
            let blocked = ws.write("not-a-dir", "x")
            let db2 = try await prepare(ws, 1, count: 5)
            let fallback = try await bulkreg(
                ["run", "--db", db2, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": key, "XDG_STATE_HOME": blocked]
            )
            #expect(fallback.status == 0, "\(fallback.stderr)")
            let said = fallback.stderr.components(separatedBy: "shared rate budget").count - 1
            #expect(said == 1, "\(fallback.stderr)")
            #expect(fallback.stderr.contains("XDG_STATE_HOME"))
        }
    }
}
