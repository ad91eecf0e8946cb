import WebinarAPI

/// The `webinar` check made before a target's first registration, one per target per
/// database, shared by all workers: the first worker to need it calls `webinar`, the others
/// wait for its answer. The check is an ordinary call: trouble is retried with backoff, and a
/// target's jobs fail only on proof (see `OutcomePolicy` and `TargetVerdict.judge`).
actor TargetChecks {
    /// What the check says about the target now.
    enum Verdict: Sendable, Equatable {
        /// The webinar has this schedule (and EverWebinar date).
        case ok
        /// Proven wrong: the target's jobs fail with these words.
        case missing(String)
        /// No proof either way yet: the job comes back later (the action says when).
        case later(OutcomeAction)
        /// The run is stopping.
        case cancelled
    }

    private var known: [Target: Verdict] = [:]
    private var histories: [Target: CallHistory] = [:]
    private var running: [Target: Task<Verdict, Never>] = [:]

    /// Targets already checked in this database (from the `targets` table).
    func load(_ checked: [Target: (ok: Bool, message: String?)]) {
        for (target, value) in checked {
            known[target] = value.ok ? .ok : .missing(value.message ?? "\(target): not found")
        }
    }

    /// The verdict for `target`; `perform` makes one call given the target's history and
    /// returns the verdict with the history after it.
    func check(
        _ target: Target,
        perform: @escaping @Sendable (CallHistory) async -> (Verdict, CallHistory)
    ) async -> Verdict {
        if let result = known[target] { return result }
        if let task = running[target] { return await task.value }
        let history = histories[target] ?? CallHistory()
        let task = Task { () -> Verdict in
            let (verdict, next) = await perform(history)
            self.remember(target, verdict: verdict, history: next)
            return verdict
        }
        running[target] = task
        let result = await task.value
        running[target] = nil
        return result
    }

    private func remember(_ target: Target, verdict: Verdict, history: CallHistory) {
        histories[target] = history
        switch verdict {
        case .ok, .missing: known[target] = verdict
        case .later, .cancelled: break
        }
    }
}

/// Whether a successful `webinar` answer proves the target right or wrong. Pure.
enum TargetVerdict {
    /// `nil` when the target is there; else the words its jobs fail with.
    static func judge(_ target: Target, webinar: WebinarDetail) -> String? {
        let schedules = webinar.schedules.filter { $0.schedule == target.schedule }
        if schedules.isEmpty {
            let known = webinar.schedules.map { String($0.schedule) }
            let list = Array(Set(known)).sorted().joined(separator: ", ")
            return "\(target): no such schedule (the webinar's schedules are: \(list.isEmpty ? "none" : list))"
        }
        let dates = Array(Set(schedules.compactMap(\.date))).sorted()
        if target.platform == .everwebinar, target.date.isEmpty, dates.count > 1 {
            // Which session would the vendor pick? Nobody can say: the user must.
            return "\(target): this schedule has several sessions (\(dates.joined(separator: ", "))): "
                + "import with --date \"\(dates[0])\" (or a date column) to choose one"
        }
        if target.platform == .everwebinar, !target.date.isEmpty,
            !schedules.contains(where: {
                RegistrantMatch.sessionKey($0.date ?? "") == RegistrantMatch.sessionKey(target.date)
            })
        {
            let dates = schedules.compactMap(\.date).joined(separator: ", ")
            return "\(target): the date is not a session of this schedule (sessions: \(dates))"
        }
        return nil
    }
}
