import Foundation
import SQLite
import TestSupport
import Testing
import WebinarAPI

@testable import BulkReg

/// The call history's pure parts (issue 13): outage detection, the report's time buckets and
/// latency bins, reasons without personal data, HTTP statuses of failures, the charts' axes.
@Suite("Call history rules")
struct HistoryRuleTests {
    /// `pattern`: one character a call, one second apart, each lasting 0.1 s: `x` a trouble
    /// call (unreachable), `.` an answered one.
    static func feed(_ pattern: String, spacing: Double = 1, reversed: Bool = false) -> [OutageDetector.Outage] {
        var detector = OutageDetector(reversed: reversed)
        var out: [OutageDetector.Outage] = []
        var calls = Array(pattern.enumerated())
        if reversed { calls.reverse() }
        for (i, c) in calls {
            let outcome: CallOutcome = c == "x" ? .unreachable : .success
            if let o = detector.feed(at: Double(i) * spacing, latency: 0.1, outcome: outcome, reason: "call \(i)") {
                out.append(o)
            }
        }
        if let o = detector.finish() { out.append(o) }
        return out
    }

    @Test(
        "outages: ten failing calls in a row, or three spanning five seconds; scattered faults are none",
        arguments: [
            // pattern, spacing (s), expected outages as (first failing call, calls, ended)
            ("..x.x..xx.x..", 1, []),
            ("..xxxxxxxxx..", 0.05, []),  // nine quick failures: chance, not an outage
            ("..xxxxxxxxxx..", 0.05, [[2, 10, 1]]),  // ten: an outage, ended by the next answer
            ("..xxx..", 3.0, [[2, 3, 1]]),  // three, nine seconds long (calls that time out)
            ("..xx..", 3.0, []),  // two are never an outage
            ("..xxx..", 1.0, []),  // three in three seconds: too short
            (".xxxxxxxxxx.xxxxxxxxxx", 0.1, [[1, 10, 1], [12, 10, 0]]),  // the second still going on
            ("xxxxxxxxxxxx", 0.1, [[0, 12, 0]]),
        ] as [(String, Double, [[Int]])]
    )
    func outages(pattern: String, spacing: Double, expected: [[Int]]) {
        let found = Self.feed(pattern, spacing: spacing)
        #expect(found.map { [Int(($0.from / spacing).rounded()), $0.calls, $0.ended ? 1 : 0] } == expected)
        // An outage ended by an answer runs to that answer's start (or the last failing call's
        // end, if later); one still going on to the last failing call's end.
        for (outage, e) in zip(found, expected) {
            let last = Double(e[0] + e[1] - 1) * spacing
            #expect(abs(outage.to - (e[2] == 1 ? max(last + spacing, last + 0.1) : last + 0.1)) < 1e-9)
            #expect(outage.reason == "call \(e[0])")
        }
    }

    @Test("the reversed detector finds the newest outage first, with the same bounds")
    func reversedOutage() {
        let pattern = "..xxxxxxxxxx...xxxxxxxxxxxx.."
        let forward = Self.feed(pattern, spacing: 0.5)
        let backward = Self.feed(pattern, spacing: 0.5, reversed: true)
        #expect(forward.count == 2 && backward.count == 2)
        #expect(backward.first == forward.last)
        #expect(backward.last == forward.first)
        // Going on at the history's end: not ended, either way.
        #expect(Self.feed("..xxxxxxxxxxx", spacing: 0.5, reversed: true).first?.ended == false)
    }

    @Test(
        "bucket widths: the smallest round width giving at most 240 buckets",
        arguments: [
            (0.5, 1), (60, 1), (239, 1), (240, 2), (3_600, 30), (50_400, 300), (86_400, 600),
            (2_592_000, 21_600), (34_560_000, 172_800),
        ] as [(Double, Double)]
    )
    func bucketWidth(span: Double, width: Double) {
        #expect(Timeline.bucketWidth(span: span) == width)
        #expect(span / width <= Double(Timeline.maxBuckets - 1))  // a bucket spare for the rounded-down start
    }

    @Test(
        "latency bins: four per doubling; the bin's upper edge is within 19% of any value in it",
        arguments: [(0, 0), (0.9, 0), (1, 1), (1.18, 1), (1.19, 2), (2, 5), (100, 27), (1_000, 40), (1e9, 72)]
            as [(Double, Int)]
    )
    func latencyBins(ms: Double, bin: Int) {
        #expect(Timeline.bin(milliseconds: ms) == bin)
        if ms >= 1 && bin < Timeline.bins - 1 {
            let upper = Timeline.binValue(bin)
            #expect(upper >= ms && upper <= ms * 1.19 + 1e-9, "\(ms) ms → bin \(bin), edge \(upper)")
        }
    }

    @Test("latency quantiles of a bucket: p50, p90, p99 of a known mix")
    func quantiles() {
        var timeline = Timeline(first: 0, last: 10)
        for i in 0..<100 {
            let ms = i < 90 ? 100.0 : i < 99 ? 1_000 : 10_000
            timeline.add(
                CallRecord(
                    at: 1,
                    latency: ms / 1000,
                    job: i,
                    method: .register,
                    outcome: .success,
                    httpStatus: 200,
                    attempt: 1,
                    reason: nil
                )
            )
        }
        let p50 = timeline.latency(timeline.index(1), quantile: 0.5)!
        let p99 = timeline.latency(timeline.index(1), quantile: 0.99)!
        let p100 = timeline.latency(timeline.index(1), quantile: 1)!
        #expect(p50 >= 100 && p50 < 119)
        #expect(p99 >= 1_000 && p99 < 1_190)
        #expect(p100 >= 10_000 && p100 < 11_900)
        #expect(timeline.latency(timeline.index(9), quantile: 0.5) == nil)
        #expect(timeline.registered[timeline.index(1)] == 100)
    }

    @Test(
        "reasons: one line, at most 160 characters, email addresses replaced",
        arguments: [
            ("The email ann@example.com is already registered", "The email <email> is already registered"),
            ("line one\nline two\t tab", "line one line two tab"),
            ("@handle and a@b are not addresses", "@handle and a@b are not addresses"),
            (String(repeating: "a", count: 200), String(repeating: "a", count: 159) + "…"),
        ]
    )
    func shortReason(text: String, expected: String) {
        let short = CallRecord.shortReason(text)
        #expect(short == expected)
        #expect(short.count <= 160)
    }

    @Test("HTTP statuses of failures: kept, 429, or named in our own reasons")
    func httpStatuses() {
        let table: [(APIFailure, Int?)] = [
            (.rateLimited, 429),
            (.rejected(httpStatus: 422, message: "bad"), 422),
            (.busy(httpStatus: 200, message: "try later"), 200),
            (.timedOut(reason: "no answer in 30 s"), nil),
            (.transient(reason: "HTTP 503 from the API: Service Unavailable", mayHaveReachedVendor: true), 503),
            (.transient(reason: "connection refused", mayHaveReachedVendor: false), nil),
            (.unauthorized(message: "the API key was refused (HTTP 401)"), 401),
            (.transient(reason: "HTTP 5 short", mayHaveReachedVendor: true), nil),
            (.transient(reason: "HTTP 999 out of range", mayHaveReachedVendor: true), nil),
        ]
        for (failure, status) in table {
            #expect(failure.httpStatus == status, "\(failure)")
        }
    }

    @Test("answer classes: each failure has its own, and the trouble classes are what outages are made of")
    func classes() {
        #expect(CallOutcome(nil) == .success)
        #expect(CallOutcome(.rateLimited) == .rateLimited)
        #expect(CallOutcome(.transient(reason: "x", mayHaveReachedVendor: true)) == .vendorTrouble)
        #expect(CallOutcome(.transient(reason: "x", mayHaveReachedVendor: false)) == .unreachable)
        #expect(CallOutcome(.timedOut(reason: "x")) == .timeout)
        #expect(Set(CallOutcome.allCases.filter(\.isTrouble)) == [.unreachable, .vendorTrouble, .timeout])
        #expect(Set(CallOutcome.allCases.map(\.label)).count == CallOutcome.allCases.count)
    }

    @Test(
        "value axes end at 1, 2, 2.5 or 5 × 10^k",
        arguments: [(0, 1), (0.3, 0.5), (1, 1), (1.1, 2), (2.2, 2.5), (21.6, 25), (26, 50), (51, 100), (1_234, 2_000)]
            as [(Double, Double)]
    )
    func niceCeiling(value: Double, ceiling: Double) {
        #expect(abs(TimeChart.niceCeiling(value) - ceiling) < 1e-9)
    }

    @Test("text in the page is escaped")
    func escaping() {
        #expect(HTMLText.escape("<b a=\"1\">'&'</b>") == "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;")
    }
}

@Suite("Call history storage")
struct HistoryStorageTests {
    @Test("a schema-4 database migrates to 5: its jobs kept, the calls table added, history written")
    func migrationFrom4() async throws {
        let dir = TempDir()
        let connection = try Connection(.path(dir.db))
        for migration in Schema.migrations.prefix(4) { try connection.execute(migration) }
        try connection.execute("PRAGMA user_version = 4")
        #expect(try connection.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'calls'") == 0)
        _ = connection

        let csv = dir.write("leads.csv", "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n")
        try importFile(dir, csv)
        let upgraded = try Database.open(dir.db, mode: .existing)
        #expect(try upgraded.scalarInt("PRAGMA user_version") == 5)
        #expect(try upgraded.scalarInt("SELECT count(*) FROM jobs") == 2)

        let store = try JobStore(path: dir.db)
        let call = CallRecord(
            at: 1_000,
            latency: 0.25,
            job: 1,
            method: .register,
            outcome: .vendorTrouble,
            httpStatus: 503,
            attempt: 1,
            reason: "HTTP 503 from the API"
        )
        await store.record(call)
        try await store.flushHistory()
        let q = try upgraded.prepare("SELECT \(CallLog.columns) FROM calls")
        #expect(try q.step())
        #expect(CallLog.record(q) == call)
    }
}
