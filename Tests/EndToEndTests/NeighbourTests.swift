import Foundation
import SQLite
import TestSupport
import Testing
import WebinarSim

/// A run and its neighbours, through the binary: other commands on the same database while a
/// check fails, a killed run nobody reaps, a long write by another process, a signal.
@Suite("A run beside its neighbours, through the binary", .serialized)
struct NeighbourTests {
    let key = "e2e-key-0123456789"

    /// The run's `states` from `status --json`.
    func states(_ ws: Workspace) async throws -> [String: Int] {
        let status = try await bulkreg(["status", "--json", "--db", ws.db])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        return json?["states"] as? [String: Int] ?? [:]
    }

    @Test("cancel and a corrected import while the target's webinar check times out: neither is undone")
    func failingCheckKeepsCancelAndCorrection() async throws {
        let ws = try await workspace(leads: 20)
        let configure: (inout SimulatorConfig) -> Void = {
            // Every webinar check answers after 6 s; the run gives up on a call after 2 s.
            $0.faults.methods = [.webinar]
            $0.faults.slowRate = 1
            $0.faults.slowMs = 6_000
        }
        try await withSimulator(configure) { sim in
            let (process, out, err) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--request-timeout", "2"],
                env: ["WEBINARJAM_API_KEY": key]
            )
            // The check is failing: the jobs wait for it.
            #expect(await waitUntil { await sim.stats().callsByMethod["webinar", default: 0] >= 1 })
            for job in ["1", "2"] {
                let cancelled = try await bulkreg(["cancel", "--job", job, "--db", ws.db])
                #expect(cancelled.status == 0, "\(cancelled.stderr)")
            }
            var corrected = "Email Address,First Name,Last Name,Phone Number\n"
            for i in 11...20 { corrected += "person\(i)@example.com,Person\(i),Corrected,\n" }
            let file = ws.write("corrected.csv", corrected)
            let imported = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
            #expect(imported.status == 0, "\(imported.stderr)")
            // Let at least one more check time out with those changes in place, then heal the vendor.
            let checks = await sim.stats().callsByMethod["webinar", default: 0]
            #expect(await waitUntil(.seconds(60)) { await sim.stats().callsByMethod["webinar", default: 0] > checks })
            try await sim.setFaults(SimFaults())
            let status = await exitStatus(of: process, within: .seconds(120))
            #expect(status == 0, "\(out.text) \(err.text)")

            let stats = await sim.stats()
            let byEmail = Dictionary(grouping: await sim.registrations(), by: \.email)
            #expect(stats.duplicates == 0)
            #expect(byEmail.values.allSatisfy { $0.count == 1 }, "someone registered twice")
            #expect(byEmail["person1@example.com"] == nil && byEmail["person2@example.com"] == nil)
            #expect(byEmail.count == 18)
            for i in 11...20 {
                #expect(byEmail["person\(i)@example.com"]?.first?.lastName == "Corrected", "person\(i)")
            }
            let states = try await states(ws)
            #expect(states["cancelled"] == 2 && states["done"] == 18, "\(states)")
        }
    }

    @Test("a run killed with SIGKILL whose parent never reaps it (a zombie): the next run takes over at once")
    func zombieHolder() async throws {
        let ws = try await workspace(leads: 200)
        try await withSimulator(latencyMs: 200...300) { sim in
            // The shell starts the run, then becomes `sleep`, which never waits for its child:
            // the killed run stays a zombie, its pid alive to `kill(pid, 0)`.
            let pidFile = ws.file("run.pid")
            let parent = Process()
            parent.executableURL = URL(fileURLWithPath: "/bin/sh")
            parent.arguments = [
                "-c",
                "\"$0\" run --db \"$1\" --api-base \"$2\" --quiet >/dev/null 2>&1 & echo $! > \"$3\"; exec sleep 60",
                bulkregBinary.path, ws.db, sim.baseURL, pidFile,
            ]
            parent.environment = [
                "PATH": "/usr/bin:/bin", "WEBINARJAM_API_KEY": key, "XDG_STATE_HOME": ws.file("state"),
                "HOME": NSTemporaryDirectory(),
            ]
            try parent.run()
            defer {
                // SIGKILL: the test process may block SIGTERM, and `sleep` inherits that.
                kill(parent.processIdentifier, SIGKILL)
                parent.waitUntilExit()
            }
            #expect(await waitUntil { await sim.stats().successfulRegisterCalls >= 10 })
            let text = try String(contentsOfFile: pidFile, encoding: .utf8)
            let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            kill(pid, SIGKILL)
            // Confirm the setup: a zombie, still "alive" to kill(pid, 0).
            #expect(
                await waitUntil(.seconds(5)) {
                    ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
                }
            )
            #expect(kill(pid, 0) == 0)
            let next = try await bulkreg(
                [
                    "run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--settle-minimum", "1",
                    "--request-timeout", "2",
                ],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(next.status == 0, "\(next.stderr)")
            #expect(!next.stderr.contains("another bulkreg is running"))
            let stats = await sim.stats()
            #expect(stats.duplicates == 0)
            #expect(stats.totalRegistrations == 200)
            #expect(try await states(ws)["done"] == 200)
        }
    }

    @Test(
        "another process holds the database's write lock for 8 s mid-run: the run waits, then finishes; 0 lost, 0 twice"
    )
    func busyDatabase() async throws {
        let ws = try await workspace(leads: 300)
        try await withSimulator(latencyMs: 20...40) { sim in
            let (process, out, err) = try launchCollected(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(await waitUntil { await sim.stats().successfulRegisterCalls >= 20 })
            // As an import of millions of rows does: one write transaction, held. No call goes
            // out whose intent could not be committed: at most the calls already claimed when
            // the lock was taken (the in-flight window) arrive meanwhile.
            let calls = try await callsWhileHeld(ws.db, seconds: 8, sim: sim)
            #expect(calls <= 25, "\(calls) calls went out while nothing could be committed")
            let status = await exitStatus(of: process, within: .seconds(120))
            // A run that gave up on the busy database would have exited 2 ("is locked").
            #expect(status == 0, "\(out.text) \(err.text)")
            let stats = await sim.stats()
            #expect(stats.duplicates == 0)
            #expect(stats.totalRegistrations == 300)
            #expect(try await states(ws)["done"] == 300)
        }
    }

    @Test("after SIGTERM no call starts: the simulator sees no call arrive once the signal is in")
    func noCallAfterSignal() async throws {
        let ws = try await workspace(leads: 600)
        try await withSimulator(latencyMs: 600...900) { sim in
            let (process, out, err) = try launch(
                ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"],
                env: ["WEBINARJAM_API_KEY": key]
            )
            #expect(await waitUntil { await sim.stats().successfulRegisterCalls >= 20 })
            kill(process.processIdentifier, SIGTERM)
            // A call started just before the signal arrives within milliseconds on loopback.
            try await Task.sleep(for: .milliseconds(200))
            let atSignal = await sim.stats().totalCalls
            let stopped = await finish(process, out, err)
            #expect(stopped.status == 143, "\(stopped.stderr)")
            let after = await sim.stats()
            #expect(after.totalCalls == atSignal, "\(after.totalCalls - atSignal) calls arrived after SIGTERM")
            #expect(after.duplicates == 0)
            let states = try await states(ws)
            #expect(states["in_flight"] == 0)
            #expect(states["done"] == after.successfulRegisterCalls, "\(states)")
        }
    }
}

/// Holds a write transaction on `path` for `seconds`, on a thread of its own (as another
/// process would); false when it could not.
func holdWriteLock(_ path: String, seconds: Double) async -> Bool {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            do {
                let holder = try Connection(.path(path))
                try holder.execute("BEGIN IMMEDIATE")
                try holder.execute("UPDATE imports SET file_name = file_name")
                Thread.sleep(forTimeInterval: seconds)
                try holder.execute("ROLLBACK")
                continuation.resume(returning: true)
            } catch {
                continuation.resume(returning: false)
            }
        }
    }
}

/// The calls `sim` received while a write transaction was held on `path` for `seconds`.
func callsWhileHeld(_ path: String, seconds: Double, sim: RunningSimulator) async throws -> Int {
    let before = await sim.stats().totalCalls
    let held = await holdWriteLock(path, seconds: seconds)
    #expect(held, "could not hold the write lock")
    return await sim.stats().totalCalls - before
}

/// A launched process's exit status once it ends, or nil (and the process killed) when it
/// has not ended within `limit`.
func exitStatus(of process: Process, within limit: Duration) async -> Int32? {
    let ended = await waitUntil(limit) { !process.isRunning }
    guard ended else {
        process.terminate()
        kill(process.processIdentifier, SIGKILL)
        return nil
    }
    return process.terminationStatus
}
