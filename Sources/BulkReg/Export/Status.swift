import SQLite

/// The state of a database at a glance: what `bulkreg status` prints.
package struct StatusReport: Sendable, Codable, Equatable {
    /// One webinar + schedule target.
    package struct Target: Sendable, Codable, Equatable {
        package var platform: String
        package var webinarID: Int?
        package var schedule: Int?
        package var states: [String: Int]

        enum CodingKeys: String, CodingKey {
            case platform, states
            case webinarID = "webinar_id"
            case schedule
        }
    }

    /// A recent permanent failure.
    package struct RecentError: Sendable, Codable, Equatable {
        package var job: Int
        package var line: Int
        package var error: String
        package var at: String
    }

    /// Input rows accounted for (every row is one job).
    package var total: Int
    /// State → count, every state listed.
    package var states: [String: Int]
    package var targets: [Target]
    package var imports: Int
    package var recentErrors: [RecentError]
    /// Whether a run holds the database's lease now (pid of the runner).
    package var runningPID: Int?
    /// Registrations per second over the last minute of completions, while a run goes on.
    package var ratePerSecond: Double?
    /// Seconds to drain what is left at that rate, while a run goes on.
    package var etaSeconds: Double?
    /// The other bulkreg processes drawing from the running run's API key budget now.
    package var sharedWith: [SharedProcess] = []

    /// The history's last minute: calls started, registrations, 429s.
    package var lastMinute = LastMinute()
    /// The newest outage in the call history.
    package var lastOutage: Outage?

    package struct LastMinute: Sendable, Codable, Equatable {
        package var calls = 0
        package var registered = 0
        package var rateLimited = 0
        /// Registrations per second over the minute.
        package var perSecond: Double { Double(registered) / 60 }

        enum CodingKeys: String, CodingKey {
            case calls, registered
            case rateLimited = "rate_limited"
            case perSecond = "per_second"
        }

        package init(calls: Int = 0, registered: Int = 0, rateLimited: Int = 0) {
            self.calls = calls
            self.registered = registered
            self.rateLimited = rateLimited
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            calls = try c.decode(Int.self, forKey: .calls)
            registered = try c.decode(Int.self, forKey: .registered)
            rateLimited = try c.decode(Int.self, forKey: .rateLimited)
        }

        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(calls, forKey: .calls)
            try c.encode(registered, forKey: .registered)
            try c.encode(rateLimited, forKey: .rateLimited)
            try c.encode((perSecond * 100).rounded() / 100, forKey: .perSecond)
        }
    }

    /// An outage seen in the call history (`OutageDetector`).
    package struct Outage: Sendable, Codable, Equatable {
        package var from: String
        package var to: String
        package var seconds: Double
        package var calls: Int
        package var reason: String?
        /// The history ends inside it: no call has been answered since.
        package var ongoing: Bool
    }

    /// Another process on the same API key.
    package struct SharedProcess: Sendable, Codable, Equatable {
        /// Its database path, or the command (`webinars`).
        package var label: String
        package var pid: Int
    }

    enum CodingKeys: String, CodingKey {
        case total, states, targets, imports
        case recentErrors = "recent_errors"
        case runningPID = "running_pid"
        case ratePerSecond = "rate_per_second"
        case etaSeconds = "eta_seconds"
        case sharedWith = "shared_with"
        case lastMinute = "last_minute"
        case lastOutage = "last_outage"
    }

    package func encode(to encoder: any Encoder) throws {
        // null, not absent, when nothing runs: a script reads one shape.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(states, forKey: .states)
        try c.encode(targets, forKey: .targets)
        try c.encode(imports, forKey: .imports)
        try c.encode(recentErrors, forKey: .recentErrors)
        try c.encode(runningPID, forKey: .runningPID)
        try c.encode(ratePerSecond, forKey: .ratePerSecond)
        try c.encode(etaSeconds, forKey: .etaSeconds)
        try c.encode(sharedWith, forKey: .sharedWith)
        try c.encode(lastMinute, forKey: .lastMinute)
        try c.encode(lastOutage, forKey: .lastOutage)
    }

    /// The rate from completion times (wall clock) in the last minute: completions after the
    /// first, over the time since it; nil with fewer than two or less than a second.
    package static func rate(completions times: [Double], now: Double, window: Double = 60) -> Double? {
        let recent = times.filter { $0 > now - window && $0 <= now }
        guard recent.count >= 2, let first = recent.min(), now - first >= 1 else { return nil }
        return Double(recent.count - 1) / (now - first)
    }

    /// Reads the report from the database at `path`.
    package static func load(databasePath path: String, now: Double) throws -> StatusReport {
        try load(try Database.open(path, mode: .existing), path: path, now: now)
    }

    /// The status read on `connection` (the report reads it inside its own read transaction).
    static func load(_ connection: Connection, path: String, now: Double) throws -> StatusReport {
        do {
            var states: [String: Int] = [:]
            for state in JobState.allCases { states[state.rawValue] = 0 }
            var targets: [Target] = []
            var total = 0
            let byTarget = try connection.prepare(
                """
                SELECT t.platform, t.webinar_id, t.schedule, c.state, c.n
                FROM (SELECT target_id, state, count(*) AS n FROM jobs GROUP BY target_id, state) c
                LEFT JOIN targets t ON t.id = c.target_id
                ORDER BY t.platform IS NULL, t.platform, t.webinar_id, t.schedule
                """
            )
            while try byTarget.step() {
                let platform = byTarget.text(0) ?? "(rejected at import)"
                let webinar = byTarget.optionalInt(1)
                let schedule = byTarget.optionalInt(2)
                let state = byTarget.text(3) ?? ""
                let count = byTarget.int(4)
                total += count
                states[state, default: 0] += count
                if let last = targets.last, last.platform == platform, last.webinarID == webinar,
                    last.schedule == schedule
                {
                    targets[targets.count - 1].states[state, default: 0] += count
                } else {
                    targets.append(
                        Target(platform: platform, webinarID: webinar, schedule: schedule, states: [state: count])
                    )
                }
            }
            var errors: [RecentError] = []
            let recent = try connection.prepare(
                "SELECT id, line, error, updated_at FROM jobs WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 5"
            )
            while try recent.step() {
                errors.append(
                    RecentError(
                        job: recent.int(0),
                        line: recent.int(1),
                        error: recent.text(2) ?? "",
                        at: WallClock.iso8601(recent.double(3))
                    )
                )
            }
            // Rate and ETA only while a run goes on, from its last minute of completions.
            let holder = try JobStore.leaseHolder(connection, now: now)
            var rate: Double?
            var eta: Double?
            if holder != nil {
                let times = try connection.prepare(
                    "SELECT registered_at FROM results WHERE registered_at > ? ORDER BY registered_at"
                )
                try times.bind([.double(now - 60)])
                var completions: [Double] = []
                while try times.step() { completions.append(times.double(0)) }
                rate = Self.rate(completions: completions, now: now)
                let left =
                    states[JobState.queued.rawValue, default: 0] + states[JobState.inFlight.rawValue, default: 0]
                    + states[JobState.uncertain.rawValue, default: 0]
                if let rate, rate > 0 { eta = Double(left) / rate }
            }
            let imports = Int(try connection.scalarInt("SELECT count(*) FROM imports") ?? 0)
            var report = StatusReport(
                total: total,
                states: states,
                targets: targets,
                imports: imports,
                recentErrors: errors,
                runningPID: holder.map { Int($0.pid) },
                ratePerSecond: rate,
                etaSeconds: eta
            )
            let minute = try CallLog.lastMinute(connection, now: now)
            report.lastMinute = LastMinute(
                calls: minute.calls,
                registered: minute.registered,
                rateLimited: minute.rateLimited
            )
            report.lastOutage = try CallLog.lastOutage(connection).map {
                Outage(
                    from: WallClock.iso8601($0.from),
                    to: WallClock.iso8601($0.to),
                    seconds: (($0.to - $0.from) * 10).rounded() / 10,
                    calls: $0.calls,
                    reason: $0.reason,
                    ongoing: !$0.ended
                )
            }
            if holder != nil {
                report.sharedWith = KeyBudget.sharing(with: KeyBudget.label(forDatabase: path)).map {
                    SharedProcess(label: $0.label, pid: Int($0.pid))
                }
            }
            return report
        } catch {
            throw Database.storageError(error, path: path)
        }
    }

    /// The human-readable form.
    package func rendered() -> String {
        var lines: [String] = []
        lines.append("\(total) rows from \(imports) import\(imports == 1 ? "" : "s")")
        let order: [JobState] = [.done, .queued, .inFlight, .uncertain, .failed, .cancelled, .rejected, .duplicate]
        for state in order {
            lines.append(
                "  \(state.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(states[state.rawValue, default: 0])"
            )
        }
        if !targets.isEmpty {
            lines.append("per webinar / schedule:")
            for t in targets {
                let counts = order.compactMap { s in t.states[s.rawValue].map { "\(s.rawValue) \($0)" } }
                let webinar = t.webinarID.map { String($0) } ?? "-"
                let schedule = t.schedule.map { String($0) } ?? "-"
                lines.append("  \(t.platform) \(webinar)/\(schedule): \(counts.joined(separator: ", "))")
            }
        }
        if !recentErrors.isEmpty {
            lines.append("recent errors:")
            for e in recentErrors { lines.append("  job \(e.job) (line \(e.line)) at \(e.at): \(e.error)") }
        }
        if lastMinute.calls > 0 {
            let rate = (lastMinute.perSecond * 10).rounded() / 10
            lines.append(
                "last minute: \(lastMinute.calls) calls, \(lastMinute.registered) registered (\(rate)/s), "
                    + "\(lastMinute.rateLimited) × 429"
            )
        }
        if let outage = lastOutage {
            let span = Self.duration(max(1, outage.seconds))
            lines.append(
                outage.ongoing
                    ? "outage since \(outage.from) (\(outage.calls) calls unanswered): \(outage.reason ?? "no answer")"
                    : "last outage: \(outage.from) – \(outage.to) (\(span), \(outage.calls) calls unanswered): "
                        + (outage.reason ?? "no answer")
            )
        }
        if let pid = runningPID {
            var tail = "a run is going on (pid \(pid))"
            if let rate = ratePerSecond {
                tail += ": \((rate * 10).rounded() / 10) registrations/s over the last minute"
                if let eta = etaSeconds, eta > 0 { tail += ", ETA \(Self.duration(eta))" }
            }
            lines.append(tail)
            if !sharedWith.isEmpty {
                let n = sharedWith.count
                let list = sharedWith.map { "\($0.label) (pid \($0.pid))" }.joined(separator: ", ")
                lines.append(
                    "its API key is shared now with \(n) other bulkreg process\(n == 1 ? "" : "es") (one budget of calls for all): \(list)"
                )
            }
        } else {
            let left = states[JobState.queued.rawValue, default: 0] + states[JobState.uncertain.rawValue, default: 0]
            lines.append(left > 0 ? "no run going on: `bulkreg run` registers the \(left) left" : "no run going on")
        }
        return lines.joined(separator: "\n")
    }

    /// `42s`, `3m05s`, `2h07m`.
    package static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(twoDigits(s % 60))s" }
        return "\(s / 3600)h\(twoDigits((s % 3600) / 60))m"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
