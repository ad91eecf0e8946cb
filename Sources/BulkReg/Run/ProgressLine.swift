/// The live progress line of `bulkreg run`: what matters first, cut to the terminal's width
/// (a line that wraps leaves a trail on every redraw).
package enum ProgressLine {
    /// - Parameters:
    ///   - rate: calls per second lately; `wall`: the wall clock now (for the pause times);
    ///   - reachableAgain: the API answered after a pause (said once);
    ///   - width: the terminal's columns (nil: not a terminal, nothing cut).
    package static func render(
        _ s: RunProgress.Snapshot,
        rate: Double,
        wall: Double,
        reachableAgain: Bool,
        width: Int?
    ) -> String {
        var parts = ["\(s.overallDone)/\(s.overallTotal) done", "\(format(rate)) calls/s"]
        if let reason = s.unreachable {
            // "API unreachable for 2m05s (connection refused), next try in 30s"
            var pause = s.pauseHeadline ?? "API unreachable"
            if let since = s.unreachableSince { pause += " for \(StatusReport.duration(max(0, wall - since)))" }
            pause += " (\(reason.prefix(90)))"
            if let next = s.nextProbeAt { pause += ", next try in \(StatusReport.duration(max(0, next - wall)))" }
            parts.append(pause)
        } else {
            if rate > 0, s.remaining > 0 { parts.append("ETA \(StatusReport.duration(Double(s.remaining) / rate))") }
            if let until = s.rateLimitedUntil, until > wall { parts.append("429: the limiter waits") }
            if reachableAgain { parts.append("API reachable again") }
        }
        if let since = s.databaseBusySince {
            parts.append(
                "waiting for the database: another process is writing (\(StatusReport.duration(max(0, wall - since))))"
            )
        }
        parts.append("failed \(s.failed)")
        parts.append("429s \(s.rateLimited)")
        parts.append("retries \(s.retries)")
        if s.checksWaiting > 0 {
            var checks = "\(s.checksWaiting) uncertain waiting for their check"
            if let next = s.nextCheckAt { checks += " (next in \(StatusReport.duration(max(0, next - wall))))" }
            parts.append(checks)
        }
        if s.pickedUp > 0 { parts.append("\(s.pickedUp) imported during the run") }
        if !s.sharedWith.isEmpty {
            let n = s.sharedWith.count
            parts.append("key shared with \(n) other process\(n == 1 ? "" : "es")")
        }
        let line = parts.joined(separator: " · ")
        guard let width, width > 1 else { return line }
        return fit(line, width: width - 1)  // the last column: some terminals wrap on it
    }

    /// `line` cut to `width` characters, ending with `…` when cut.
    package static func fit(_ line: String, width: Int) -> String {
        guard line.count > width else { return line }
        guard width > 1 else { return String(line.prefix(max(0, width))) }
        return String(line.prefix(width - 1)) + "…"
    }

    static func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }
}
