import WebinarAPI

/// Where a job goes: the unit of a preflight check.
package struct Target: Hashable, Sendable, CustomStringConvertible {
    package var platform: Platform
    package var webinarID: Int
    package var schedule: Int
    /// EverWebinar session date, or "".
    package var date: String

    package var description: String {
        "\(platform.rawValue) webinar \(webinarID) schedule \(schedule)" + (date.isEmpty ? "" : " date \(date)")
    }
}

/// A job as the runner sees it: the lead and its bookkeeping.
package struct Job: Sendable, Equatable {
    package var id: Int
    package var line: Int
    package var request: RegistrationRequest
    package var attempts: Int
    /// Wall-clock send time of the last register call that may have reached the vendor.
    package var sentAt: Double?
    package var state: JobState
    /// The last transient error, kept while the job waits for its retry.
    package var lastError: String? = nil

    package var target: Target {
        Target(
            platform: request.platform,
            webinarID: request.webinarID,
            schedule: request.schedule,
            date: request.date ?? ""
        )
    }
}
