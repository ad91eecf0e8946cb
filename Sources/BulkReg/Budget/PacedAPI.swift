import Pacing
import WebinarAPI

/// The API for the one-off commands (`webinars`, `webinar`, `link`): every call through a
/// limiter that draws from the key's shared budget, and a 429 waited out (the pause is the
/// key's: other processes on it wait too) instead of ending the command.
public final class PacedAPI: WebinarAPI {
    let api: any WebinarAPI
    let limiter: RateLimiter<ContinuousClock>
    /// 429s in a row before the command gives up with the vendor's answer.
    let patience: Int

    public init(api: any WebinarAPI, budget: SharedBudget?, rate: Int = 20, patience: Int = 5) {
        self.api = api
        self.patience = patience
        self.limiter = RateLimiter(
            clock: ContinuousClock(), configuration: RateLimiterConfiguration(rate: rate),
            shared: budget.map { SharedStarts(budget: $0) })
    }

    private func paced<T>(_ call: () async -> Result<T, APIFailure>) async -> Result<T, APIFailure> {
        var limited = 0
        while true {
            do { try await limiter.acquire() } catch { return await call() }
            let answer = await call()
            guard case .failure(.rateLimited) = answer, limited < patience else { return answer }
            limited += 1
            limiter.rateLimited()
        }
    }

    public func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> {
        await paced { await api.webinars(platform: platform) }
    }

    public func webinar(platform: Platform, webinarID: Int, timezone: String?) async -> Result<WebinarDetail, APIFailure> {
        await paced { await api.webinar(platform: platform, webinarID: webinarID, timezone: timezone) }
    }

    public func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure> {
        await paced { await api.register(request) }
    }

    public func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure> {
        await paced { await api.registrants(query) }
    }
}
