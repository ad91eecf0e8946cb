import Foundation
import SQLite
import TestSupport
import Testing
import WebinarAPI

@testable import BulkReg

@Suite("What a run and status tell")
struct HonestRunTests {
    /// A database with `leads` queued, `done` of them registered at the given times.
    func database(leads: Int, registeredAt times: [Double]) throws -> TempDir {
        let dir = TempDir()
        var text = "email,first_name\n"
        for i in 1...leads { text += "p\(i)@example.com,P\(i)\n" }
        try importFile(dir, dir.write("l.csv", text))
        let connection = try Database.open(dir.db, mode: .existing)
        for (i, at) in times.enumerated() {
            try connection.prepare("UPDATE jobs SET state = 'done' WHERE id = ?").run([.int(Int64(i + 1))])
            try connection.prepare(
                "INSERT INTO results (job_id, user_id, live_room_url, source, registered_at) VALUES (?, 1, 'u', 'register', ?)"
            ).run([.int(Int64(i + 1)), .double(at)])
        }
        return dir
    }

    @Test("status: rate and ETA from the last minute of completions while a run goes on; none without a run")
    func statusRate() async throws {
        // A run that started 13 s before `now` at 18/s: 234 completions, not 234 / 60.
        let now = 10_000.0
        let times = (0..<234).map { now - 233.0 / 18 + Double($0) / 18 }
        let dir = try database(leads: 300, registeredAt: times)
        let idle = try StatusReport.load(databasePath: dir.db, now: now)
        #expect(idle.runningPID == nil && idle.ratePerSecond == nil && idle.etaSeconds == nil)
        #expect(idle.rendered().contains("no run going on: `bulkreg run` registers the 66 left"))
        let json = String(decoding: try JSONEncoder().encode(idle), as: UTF8.self)
        #expect(json.contains("\"rate_per_second\":null") && json.contains("\"eta_seconds\":null"))

        let store = try JobStore(path: dir.db)
        _ = try await store.acquireLease(pid: 4242, host: "another-host", now: now - 1)
        let running = try StatusReport.load(databasePath: dir.db, now: now)
        #expect(running.runningPID == 4242)
        let rate = try #require(running.ratePerSecond)
        #expect(abs(rate - 18) < 0.2, "\(rate)")
        let eta = try #require(running.etaSeconds)
        #expect(abs(eta - 66.0 / 18) < 0.1)
        #expect(
            running.rendered().contains(
                "a run is going on (pid 4242): 18.0 registrations/s over the last minute, ETA 4s"
            )
        )
    }

    @Test(
        "the rate rule",
        arguments: [
            ([], nil),
            ([99.5], nil),
            ([40.0, 100.0], nil),
            ([50.0, 100.0], 1.0 / 50),
            ([0.0, 50.0, 70.0, 90.0], 2.0 / 50),
        ] as [([Double], Double?)]
    )
    func rateRule(times: [Double], expected: Double?) {
        let rate = StatusReport.rate(completions: times, now: 100)
        #expect(rate.map { ($0 * 1e6).rounded() } == expected.map { ($0 * 1e6).rounded() })
    }

    @Test("the progress line: overall done/total, a 429 named as such, cut to the terminal's width")
    func progressLine() {
        var s = RunProgress.Snapshot()
        s.doneBefore = 1_000
        s.failedBefore = 3
        s.total = 500
        s.done = 120
        s.rateLimited = 2
        s.rateLimitedUntil = 50.5
        s.checksWaiting = 4
        s.nextCheckAt = 80
        s.pickedUp = 50
        let wide = ProgressLine.render(s, rate: 19.84, wall: 50, reachableAgain: false, width: 200)
        #expect(
            wide == "1120/1503 done · 19.8 calls/s · ETA 20s · 429: the limiter waits · failed 0 · 429s 2 · retries 0"
                + " · 4 uncertain waiting for their check (next in 30s) · 50 imported during the run"
        )
        let narrow = ProgressLine.render(s, rate: 19.84, wall: 50, reachableAgain: false, width: 60)
        #expect(narrow.count == 59 && narrow.hasSuffix("…") && narrow.hasPrefix("1120/1503 done · 19.8 calls/s"))
        // Not a terminal: nothing cut.
        #expect(ProgressLine.render(s, rate: 19.84, wall: 50, reachableAgain: false, width: nil) == wide)

        var down = RunProgress.Snapshot()
        down.total = 10
        down.unreachable = "connection refused"
        down.pauseHeadline = "API unreachable"
        down.unreachableSince = 10
        down.nextProbeAt = 70
        let paused = ProgressLine.render(down, rate: 0, wall: 40, reachableAgain: false, width: 200)
        #expect(
            paused
                == "0/10 done · 0.0 calls/s · API unreachable for 30s (connection refused), next try in 30s · failed 0 · 429s 0 · retries 0"
        )

        // Other processes on the key's shared budget: said, with how many.
        var shared = RunProgress.Snapshot()
        shared.total = 10
        shared.sharedWith = ["/data/b.sqlite", "webinars"]
        #expect(
            ProgressLine.render(shared, rate: 9.9, wall: 0, reachableAgain: false, width: nil)
                == "0/10 done · 9.9 calls/s · ETA 2s · failed 0 · 429s 0 · retries 0 · key shared with 2 other processes"
        )
        shared.sharedWith = ["/data/b.sqlite"]
        #expect(
            ProgressLine.render(shared, rate: 9.9, wall: 0, reachableAgain: false, width: nil).hasSuffix(
                "key shared with 1 other process"
            )
        )
    }

    @Test("a re-import leaves a job being sent (in flight) alone")
    func inFlightLeftAlone() throws {
        let dir = try database(leads: 2, registeredAt: [])
        let connection = try Database.open(dir.db, mode: .existing)
        try connection.execute("UPDATE jobs SET state = 'in_flight', maybe_sent = 1 WHERE id = 1")
        let again = try importFile(
            dir,
            dir.write("again.csv", "email,first_name\np1@example.com,Pat\np2@example.com,Pam\n"),
            now: 2_000
        )
        #expect(again.leftAlone == 1 && again.updated == 1 && again.queued == 0)
        #expect(try connection.scalarInt("SELECT count(*) FROM jobs WHERE state = 'in_flight'") == 1)
    }

    @Test("a corrected row for a possibly-sent failed job is checked first (uncertain), never sent blind")
    func maybeSentCarried() throws {
        let dir = try database(leads: 1, registeredAt: [])
        let connection = try Database.open(dir.db, mode: .existing)
        try connection.execute(
            "UPDATE jobs SET state = 'failed', maybe_sent = 1, sent_at = 1500, error = 'could not check' WHERE id = 1"
        )
        let again = try importFile(dir, dir.write("again.csv", "email,first_name\np1@example.com,Pat\n"), now: 2_000)
        #expect(again.updated == 1)
        #expect(
            try connection.scalarInt(
                "SELECT count(*) FROM jobs WHERE state = 'uncertain' AND maybe_sent = 1 AND sent_at = 1500"
            ) == 1
        )
    }
}

@Suite("Upgrading a schema-2 database")
struct SchemaUpgradeTests {
    /// The schema bulkreg wrote before version 3: its first two migrations (migrations are
    /// never edited once released, only appended to).
    static let schema2 = Schema.migrations.prefix(2).joined(separator: "\n") + "\nPRAGMA user_version = 2;"

    @Test(
        "an import made under schema 2 keeps being read by its own rules: a `Webinar ID` column still feeds the target"
    )
    func legacyMapping() async throws {
        let dir = TempDir()
        let connection = try Connection(.path(dir.db))
        try connection.execute(Self.schema2)
        let header = ["First Name", "Email", "Webinar ID", "Schedule", "TZ"]
        let insert = try connection.prepare(
            """
            INSERT INTO imports (file_name, content_hash, byte_size, imported_at, platform, webinar_id, schedule,
                delimiter, encoding, header, overrides)
            VALUES ('old.csv', 'abc', 10, 1000, 'webinarjam', NULL, NULL, ',', 'UTF-8', ?, ?)
            """
        )
        try insert.run([.blob(RowCodec.encode(header)), .blob(RowCodec.encode([]))])
        try connection.execute("INSERT INTO targets (platform, webinar_id, schedule) VALUES ('webinarjam', 7, 70)")
        let job = try connection.prepare(
            "INSERT INTO jobs (import_id, line, state, target_id, person, row) VALUES (1, 2, 'queued', 1, 42, ?)"
        )
        try job.run([.blob(RowCodec.encode(["Ann", "ann@example.com", "7", "70", "GMT-5"]))])
        let store = try JobStore(path: dir.db)
        let jobs = try await store.queuedPage(after: 0, limit: 10)
        #expect(jobs.count == 1)
        #expect(jobs.first?.request.webinarID == 7 && jobs.first?.request.schedule == 70)
        let upgraded = try Database.open(dir.db, mode: .existing)
        #expect(try upgraded.scalarInt("PRAGMA user_version") == 5)
        #expect(try upgraded.scalarInt("SELECT count(*) FROM imports WHERE mapping LIKE '%webinar_id=2%'") == 1)
    }
}
