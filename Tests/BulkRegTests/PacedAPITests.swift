@testable import BulkReg
import Foundation
import Pacing
import Synchronization
import Testing
import WebinarAPI

@Suite("One-off commands on the shared budget")
struct PacedAPITests {
    /// An API whose request leaves the process 40 ms after the call starts (a connection
    /// being set up), as `HTTPWebinarAPI` says through `RequestTiming`.
    final class SlowSend: WebinarAPI, Sendable {
        let leftAt = Mutex<[Int64]>([])

        func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> {
            try? await Task.sleep(for: .milliseconds(40))
            leftAt.withLock { $0.append(SharedBudget.bootTimeNow()) }
            RequestTiming.onSend?()
            RequestTiming.onSend?()  // once only counts
            return .success([])
        }
        func webinar(platform: Platform, webinarID: Int, timezone: String?) async -> Result<WebinarDetail, APIFailure> {
            .failure(.rejected(httpStatus: 404, message: "no"))
        }
        func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure> {
            .failure(.rejected(httpStatus: 404, message: "no"))
        }
        func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure> {
            .failure(.rejected(httpStatus: 404, message: "no"))
        }
    }

    @Test("a call's start is counted when its request leaves the process, in the shared log too")
    func sendInstantCounts() async throws {
        let path = NSTemporaryDirectory() + "bulkreg-paced-\(UUID().uuidString).budget"
        defer { unlink(path) }
        let budget = try SharedBudget(
            path: path, bootID: SharedBudget.currentBootID(), now: SharedBudget.bootTimeNow(),
            configuration: RateLimiterConfiguration(rate: 20), label: "webinars")
        let api = SlowSend()
        let paced = PacedAPI(api: api, budget: budget)
        for _ in 0..<3 {
            guard case .success = await paced.webinars(platform: .webinarjam) else {
                Issue.record("the call failed")
                return
            }
        }
        let starts = budget.starts(from: 0, to: .max)
        let left = api.leftAt.withLock { $0 }
        // One entry per call (and per fresh slot a late start took), each at or after the
        // instant its request left.
        #expect(starts.count == 3 + paced.gate.freshSlots, "\(starts)")
        for instant in left { #expect(starts.contains { $0 >= instant && $0 - instant < 5_000_000 }, "\(starts) vs \(left)") }
    }
}
