@testable import BulkReg
import Foundation
import Pacing
import Testing
import WebinarAPI

@Suite("One-off commands on the shared budget")
struct PacedAPITests {
    @Test("a process's first call holds the next slot as well: its connection set-up cannot put a 21st call into a second")
    func warmUpHoldsTwoSlots() async throws {
        let path = NSTemporaryDirectory() + "bulkreg-paced-\(UUID().uuidString).budget"
        defer { unlink(path) }
        let budget = try SharedBudget(
            path: path, bootID: SharedBudget.currentBootID(), now: SharedBudget.bootTimeNow(),
            configuration: RateLimiterConfiguration(rate: 20), label: "webinars")
        let paced = PacedAPI(api: FakeAPI(), budget: budget)
        guard case .success = await paced.webinars(platform: .webinarjam) else {
            Issue.record("the call failed")
            return
        }
        let first = budget.starts(from: 0, to: .max)
        // A call late for its slot (a busy machine) takes a fresh one: counted apart.
        #expect(first.count == 2 + paced.gate.freshSlots, "\(first.map { $0 - first[0] })")
        _ = await paced.webinar(platform: .webinarjam, webinarID: 5, timezone: nil)
        let after = budget.starts(from: 0, to: .max)
        #expect(after.count == 3 + paced.gate.freshSlots, "\(after)")
        // Slots are at least a 20th of a second apart.
        for (a, b) in zip(after, after.dropFirst()) { #expect(b - a >= 50_000_000 - 1_000_000) }
    }
}
