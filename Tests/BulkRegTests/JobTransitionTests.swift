import BulkReg
import Foundation
import SQLite
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Job transitions: one table, every event from every state")
struct JobTransitionTests {
    /// The allowed transitions, written out here independently of the code's table: from-state
    /// → to-state per event (`nil` to-state: the state stays). Every pair not listed is refused.
    static let expected: [JobEvent: [JobState: JobState?]] = [
        .claim: [.queued: .inFlight, .uncertain: .inFlight],
        .release: [.inFlight: .queued],
        .registered: [.inFlight: .done],
        .found: [.uncertain: .done],
        .refused: [.inFlight: .failed],
        .targetMissing: [.queued: .failed, .uncertain: .failed],
        .gaveUp: [.uncertain: .failed],
        .postponed: [.inFlight: .queued],
        .deferred: [.queued: nil, .uncertain: nil],
        .maybeSent: [.inFlight: .uncertain],
        .noted: [.uncertain: nil],
        .interrupted: [.inFlight: .uncertain],
        .cancel: [.queued: .cancelled, .failed: .cancelled],
        .retry: [.failed: .queued],  // maybe_sent = 0 here; = 1 is tested below
        .forceRetry: [.failed: .queued, .uncertain: .queued],
        .replace: [.queued: .duplicate, .failed: .duplicate, .cancelled: .duplicate],
        .carryCheck: [.queued: .uncertain],
        .collision: [.duplicate: .queued],
        .verifiedMissing: [.done: .failed],
    ]

    /// A database with one job and a runner lease whose token is `lease`.
    func database(lease: Int64) throws -> (TempDir, Connection) {
        let dir = TempDir()
        _ = try importLeads(dir, count: 1)
        let connection = try Connection(.path(dir.db))
        try connection.execute(
            "INSERT OR REPLACE INTO runner_lease (id, token, pid, host, started_at, heartbeat_at) VALUES (1, \(lease), 1, 'h', 0, 0)"
        )
        return (dir, connection)
    }

    /// Test setup: puts job 1 in `state` (from the state it is read in, named in the statement).
    func place(_ connection: Connection, in state: JobState, maybeSent: Bool = false) throws {
        let current = try self.state(connection)?.rawValue ?? ""
        try connection.prepare("UPDATE jobs SET state = ?, maybe_sent = ? WHERE id = 1 AND state = ?").run([
            .text(state.rawValue), .int(maybeSent ? 1 : 0), .text(current),
        ])
        #expect(connection.changes == 1)
    }

    func state(_ connection: Connection) throws -> JobState? {
        let q = try connection.prepare("SELECT state FROM jobs WHERE id = 1")
        guard try q.step() else { return nil }
        return JobState(rawValue: q.text(0) ?? "")
    }

    @Test("every event × every state: the statement moves exactly the allowed ones, to the table's state")
    func table() throws {
        let (_, connection) = try database(lease: 77)
        #expect(Set(Self.expected.keys) == Set(JobEvent.allCases), "an event without an expected row")
        for event in JobEvent.allCases {
            for from in JobState.allCases {
                try place(connection, in: from)
                let sql = event.update(set: "updated_at = 5", where: "id = ?")
                try connection.prepare(sql).run(
                    event.transition.runner ? [.int(1), .int(77)] : [.int(1)]
                )
                let allowed = Self.expected[event]?.keys.contains(from) == true
                #expect(connection.changes == (allowed ? 1 : 0), "\(event) from \(from)")
                let after = try state(connection)
                let wanted: JobState? = allowed ? (Self.expected[event]![from]! ?? from) : from
                #expect(after == wanted, "\(event) from \(from): \(String(describing: after))")
                #expect(event.next(from: from) == (allowed ? wanted : nil), "\(event).next(from: \(from))")
            }
        }
    }

    @Test("retry of a failed job whose last call may have reached the vendor: uncertain, checked first")
    func retryMaybeSent() throws {
        let (_, connection) = try database(lease: 1)
        try place(connection, in: .failed, maybeSent: true)
        try connection.prepare(JobEvent.retry.update(set: "updated_at = 5", where: "id = ?")).run([.int(1)])
        #expect(try state(connection) == .uncertain)
        #expect(JobEvent.retry.next(from: .failed, maybeSent: true) == .uncertain)
    }

    @Test("a runner event under another lease's token changes nothing, from any state")
    func leaseGuard() throws {
        let (_, connection) = try database(lease: 77)
        for event in JobEvent.allCases where event.transition.runner {
            for from in event.transition.from {
                try place(connection, in: from)
                try connection.prepare(event.update(set: "updated_at = 5", where: "id = ?")).run([.int(1), .int(78)])
                #expect(connection.changes == 0, "\(event) from \(from) under a lost lease")
                #expect(try state(connection) == from)
            }
        }
    }

    @Test("a cancelled job is never re-queued by the runner's commits (the check-trouble hole)")
    func cancelledStaysCancelled() async throws {
        let dir = TempDir()
        _ = try importLeads(dir, count: 2)
        let store = try JobStore(path: dir.db)
        _ = try await store.acquireLease(pid: getpid(), host: "here", now: 1_000)
        _ = try await store.cancel(.job(1), now: 1_001)
        // What the runner commits when a target check gets trouble before the job was claimed,
        // and after a call: neither touches the cancelled job.
        #expect(
            try await !store.commit(.requeued(job: 1, attempts: 0, lastError: "timeout", at: 1_002, claimed: false))
        )
        #expect(try await !store.commit(.requeued(job: 1, attempts: 1, lastError: "timeout", at: 1_002)))
        #expect(try await !store.commit(.failed(job: 1, attempts: 0, message: "no", at: 1_002, event: .targetMissing)))
        #expect(try await !store.commit(.sending(job: 1, at: 1_003)))
        #expect(try await store.counts()[.cancelled] == 1)
        // The other job, still queued, is deferred in place and can be claimed.
        #expect(try await store.commit(.requeued(job: 2, attempts: 0, lastError: "timeout", at: 1_002, claimed: false)))
        #expect(try await store.commit(.sending(job: 2, at: 1_003)))
    }

    @Test("a lease left by a zombie (killed, not reaped: kill(pid, 0) succeeds) is taken over; a live holder's is not")
    func zombieLease() async throws {
        let dir = TempDir()
        _ = try importLeads(dir, count: 1)
        // A child that exits at once and is not waited for: a zombie.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for arg in argv { free(arg) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0)
        defer {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        while !LeaseProcess.isZombie(pid) && clock.now < deadline { usleep(10_000) }
        #expect(LeaseProcess.isZombie(pid))
        #expect(kill(pid, 0) == 0, "a zombie answers kill(pid, 0)")
        #expect(!LeaseProcess.isAlive(pid))

        let holder = try JobStore(path: dir.db)
        _ = try await holder.acquireLease(pid: pid, host: LeaseProcess.hostName, now: 1_000)
        let store = try JobStore(path: dir.db)
        _ = try await store.acquireLease(pid: getpid(), host: LeaseProcess.hostName, now: 1_001)
        // A live holder on this host (our parent) with a fresh heartbeat is refused.
        _ = try await holder.acquireLease(pid: getppid(), host: LeaseProcess.hostName, now: 1_100)
        do {
            _ = try await store.acquireLease(pid: getpid(), host: LeaseProcess.hostName, now: 1_101)
            Issue.record("a live holder's lease was taken")
        } catch let error as BulkRegError {
            #expect(error.message.contains("another bulkreg is running"))
        }
    }
}
