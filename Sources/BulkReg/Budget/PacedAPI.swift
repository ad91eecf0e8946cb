import Pacing
import WebinarAPI

/// The API for the one-off commands (`webinars`, `webinar`, `link`): every call through a
/// limiter that draws from the key's shared budget, and a 429 waited out (the pause is the
/// key's: other processes on it wait too) instead of ending the command.
///
/// Calls go through a ``CallGate`` as the runner's do: the process's first call pays for
/// connection set-up and reaches the vendor later than its slot, so it holds the next slot as
/// well (the `bulkreg webinars` a user types during a run would otherwise put a 21st call into
/// one of the vendor's seconds).
package final class PacedAPI: WebinarAPI {
    let api: any WebinarAPI
    let limiter: RateLimiter<ContinuousClock>
    let gate: CallGate<ContinuousClock>
    /// 429s in a row before the command gives up with the vendor's answer.
    let patience: Int

    package init(api: any WebinarAPI, budget: SharedBudget?, rate: Int = 20, patience: Int = 5) {
        self.api = api
        self.patience = patience
        let configuration = RateLimiterConfiguration(rate: rate)
        self.limiter = RateLimiter(
            clock: ContinuousClock(),
            configuration: configuration,
            shared: budget.map { SharedStarts(budget: $0) }
        )
        self.gate = CallGate(
            limiter: limiter,
            clock: ContinuousClock(),
            sendLead: .zero,
            margin: configuration.margin,
            sendObserver: api as? any SendObserving
        )
    }

    private func paced<T: Sendable>(_ call: () async -> Result<T, APIFailure>) async -> Result<T, APIFailure> {
        var limited = 0
        while true {
            let gated: Result<T, APIFailure>?
            do {
                gated = try await gate.call(prepare: { true }, send: { _ in await call() })
            } catch {
                return await call()
            }
            let answer = gated ?? .failure(.rateLimited)
            guard case .failure(.rateLimited) = answer, limited < patience else { return answer }
            limited += 1
            limiter.rateLimited()
        }
    }

    package func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> {
        await paced { await api.webinars(platform: platform) }
    }

    package func webinar(
        platform: Platform,
        webinarID: Int,
        timezone: String?
    ) async -> Result<WebinarDetail, APIFailure> {
        await paced { await api.webinar(platform: platform, webinarID: webinarID, timezone: timezone) }
    }

    package func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure> {
        await paced { await api.register(request) }
    }

    package func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure> {
        await paced { await api.registrants(query) }
    }
}
