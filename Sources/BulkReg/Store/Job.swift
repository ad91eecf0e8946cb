import WebinarAPI

/// Where a job goes: the unit of a preflight check.
public struct Target: Hashable, Sendable, CustomStringConvertible {
    public var platform: Platform
    public var webinarID: Int
    public var schedule: Int
    /// EverWebinar session date, or "".
    public var date: String

    public var description: String {
        "\(platform.rawValue) webinar \(webinarID) schedule \(schedule)" + (date.isEmpty ? "" : " date \(date)")
    }
}

/// A job as the runner sees it: the lead and its bookkeeping.
public struct Job: Sendable, Equatable {
    public var id: Int
    public var line: Int
    public var request: RegistrationRequest
    public var attempts: Int
    /// Wall-clock send time of the last register call that may have reached the vendor.
    public var sentAt: Double?
    public var state: JobState
    /// The last transient error, kept while the job waits for its retry.
    public var lastError: String? = nil

    public var target: Target {
        Target(
            platform: request.platform,
            webinarID: request.webinarID,
            schedule: request.schedule,
            date: request.date ?? ""
        )
    }
}
