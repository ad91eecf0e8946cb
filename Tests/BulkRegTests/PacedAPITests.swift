import Foundation
import Pacing
import Synchronization
import Testing
import WebinarAPI

@testable import BulkReg

@Suite("One-off commands on the shared budget")
struct PacedAPITests {
    /// An API whose request leaves the process 40 ms after the call starts (a connection
    /// being set up), and says so as `HTTPWebinarAPI` does.
    final class SlowSend: WebinarAPI, SendObserving, Sendable {
        let leftAt = Mutex<[Int64]>([])
        let observer = Mutex<(@Sendable () -> Void)?>(nil)

        func observeNextSend(_ observer: @escaping @Sendable () -> Void) { self.observer.withLock { $0 = observer } }

        func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> {
            try? await Task.sleep(for: .milliseconds(40))
            leftAt.withLock { $0.append(SharedBudget.bootTimeNow()) }
            let told = observer.withLock { o in
                defer { o = nil }
                return o
            }
            told?()
            told?()  // once only counts
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

    @Test("a process's first call is counted when its request leaves the process, in the shared log too")
    func sendInstantCounts() async throws {
        let path = NSTemporaryDirectory() + "bulkreg-paced-\(UUID().uuidString).budget"
        defer { unlink(path) }
        let budget = try SharedBudget(
            path: path,
            bootID: SharedBudget.currentBootID(),
            now: SharedBudget.bootTimeNow(),
            configuration: RateLimiterConfiguration(rate: 20),
            label: "webinars"
        )
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
        // One entry per call (and per fresh slot a late start took); the first call's at the
        // instant its request left, the later ones' at their slots (pooled connections).
        #expect(starts.count == 3 + paced.gate.freshSlots, "\(starts)")
        #expect(starts.contains { $0 >= left[0] && $0 - left[0] < 5_000_000 }, "\(starts) vs \(left)")
        for instant in left.dropFirst() {
            #expect(
                starts.contains { instant - $0 >= 30_000_000 && instant - $0 < 200_000_000 },
                "\(starts) vs \(left)"
            )
        }
    }
}
