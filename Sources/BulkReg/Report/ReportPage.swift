import Foundation
import Mustache

/// The report as one self-contained HTML page: the view model built from `ReportData`, the
/// charts drawn by `TimeChart`, rendered with the Mustache template in `ReportTemplate`.
package enum ReportPage {
    /// The vendor's documented limit, drawn on the throughput chart.
    package static let vendorLimit = 20.0

    package static func render(_ data: ReportData, database: String) throws -> String {
        let template = try MustacheTemplate(string: ReportTemplate.html)
        return template.render(model(data, database: database))
    }

    struct StateRow {
        var state: String
        var count: String
        var raw: Int
        var id: String
    }

    struct TargetRow {
        var target: String
        var cells: [Cell]
    }

    struct Cell {
        var value: String
    }

    struct ChartView {
        var title: String
        var svg: String
        var legend: [LegendItem]
        var caption: String
    }

    struct LegendItem {
        var name: String
        var swatch: String
    }

    struct LeadRow {
        var job: Int
        var state: String
        var source: String
        var email: String
        var target: String
        var attempts: Int
        var reason: String
    }

    struct ImportRow {
        var id: Int
        var file: String
        var importedAt: String
        var rows: String
        var queued: String
        var rejected: String
        var duplicates: String
        var blank: String
        var updated: String
        var reasons: [ReasonRow]
        var hasReasons: Bool
        var otherReasons: String?
    }

    struct ReasonRow {
        var reason: String
        var count: String
    }

    struct OutageRow {
        var from: String
        var to: String
        var length: String
        var calls: String
        var reason: String
    }

    struct Model {
        var database: String
        var generatedAt: String
        var total: Int
        var totalText: String
        var states: [StateRow]
        var stateNames: [Cell]
        var targets: [TargetRow]
        var hasTargets: Bool
        var period: String?
        var headline: String
        var charts: [ChartView]
        var hasCharts: Bool
        var outages: [OutageRow]
        var hasOutages: Bool
        var rateLimited: String
        var checks: String?
        var leads: [LeadRow]
        var hasLeads: Bool
        var leadsNote: String?
        var imports: [ImportRow]
        var hasImports: Bool
    }

    static let stateOrder: [JobState] = [
        .done, .queued, .inFlight, .uncertain, .failed, .cancelled, .rejected, .duplicate,
    ]

    static func model(_ data: ReportData, database: String) -> Model {
        let status = data.status
        let states = stateOrder.map {
            StateRow(
                state: $0.rawValue.replacingOccurrences(of: "_", with: " "),
                count: grouped(status.states[$0.rawValue, default: 0]),
                raw: status.states[$0.rawValue, default: 0],
                id: "state-\($0.rawValue)"
            )
        }
        let targets = status.targets.map { t in
            TargetRow(
                target: t.webinarID == nil && t.schedule == nil
                    ? t.platform
                    : "\(t.platform) \(t.webinarID.map(String.init) ?? "-") / \(t.schedule.map(String.init) ?? "-")",
                cells: stateOrder.map { Cell(value: grouped(t.states[$0.rawValue, default: 0])) }
            )
        }
        var charts: [ChartView] = []
        var outages: [OutageRow] = []
        var period: String?
        var headline = "No API calls recorded yet: run `bulkreg run` and the charts appear here."
        if let timeline = data.timeline, let first = data.firstCall, let last = data.lastCall {
            period = "\(WallClock.iso8601(first)) – \(WallClock.iso8601(last)) (\(StatusReport.duration(last - first)))"
            charts = Self.charts(timeline, last: last)
            outages = timeline.outages.map {
                OutageRow(
                    from: WallClock.iso8601($0.from),
                    to: $0.ended ? WallClock.iso8601($0.to) : "not over",
                    length: StatusReport.duration(max(1, $0.to - $0.from)),
                    calls: grouped($0.calls),
                    reason: $0.reason ?? "no answer"
                )
            }
            let registered = timeline.registered.reduce(0, +)
            headline =
                "\(grouped(timeline.totalCalls)) API calls, \(grouped(registered)) registrations, "
                + "\(grouped(timeline.totalRateLimited)) × 429, \(outages.count) outage\(outages.count == 1 ? "" : "s")."
        }
        let checks =
            data.checks.isEmpty
            ? nil
            : CallOutcome.allCases.compactMap { o in data.checks[o].map { "\(o.label) \(grouped($0))" } }
                .joined(separator: ", ")
        let leads = data.leads.map {
            LeadRow(
                job: $0.job,
                state: $0.state,
                source: "\(($0.file as NSString).lastPathComponent):\($0.line)",
                email: $0.email,
                target: $0.target,
                attempts: $0.attempts,
                reason: $0.reason
            )
        }
        let imports = data.imports.map { i in
            ImportRow(
                id: i.id,
                file: i.file,
                importedAt: WallClock.iso8601(i.importedAt),
                rows: grouped(i.rows),
                queued: grouped(i.queued),
                rejected: grouped(i.rejected),
                duplicates: grouped(i.duplicates),
                blank: grouped(i.blank),
                updated: grouped(i.updated),
                reasons: i.reasons.map { ReasonRow(reason: $0.reason, count: grouped($0.count)) },
                hasReasons: !i.reasons.isEmpty,
                otherReasons: i.otherReasons > 0 ? "\(grouped(i.otherReasons)) more under other reasons" : nil
            )
        }
        return Model(
            database: database,
            generatedAt: WallClock.iso8601(data.generatedAt),
            total: status.total,
            totalText: grouped(status.total),
            states: states,
            stateNames: stateOrder.map { Cell(value: $0.rawValue.replacingOccurrences(of: "_", with: " ")) },
            targets: targets,
            hasTargets: !targets.isEmpty,
            period: period,
            headline: headline,
            charts: charts,
            hasCharts: !charts.isEmpty,
            outages: outages,
            hasOutages: !outages.isEmpty,
            rateLimited: grouped(data.timeline?.totalRateLimited ?? 0),
            checks: checks,
            leads: leads,
            hasLeads: !leads.isEmpty,
            leadsNote: data.leadsCount > leads.count
                ? "The first \(grouped(leads.count)) of \(grouped(data.leadsCount)); `bulkreg export --state failed` lists all."
                : nil,
            imports: imports,
            hasImports: !imports.isEmpty
        )
    }

    static func charts(_ t: Timeline, last: Double) -> [ChartView] {
        let bands = t.outages.map {
            (
                from: $0.from,
                to: $0.to,
                label: "outage \(WallClock.iso8601($0.from)), \(StatusReport.duration(max(1, $0.to - $0.from))): "
                    + ($0.reason ?? "no answer")
            )
        }
        let limited = t.byClass[.rateLimited] ?? []
        let marks = limited.enumerated().compactMap { b, n -> TimeChart.Mark? in
            n == 0 ? nil : (at: t.start + (Double(b) + 0.5) * t.bucket, label: "\(n) × 429")
        }
        let callRates = t.rates(t.calls, end: last)
        let registrationRates = t.rates(t.registered, end: last)
        let peak = callRates.compactMap { $0 }.max() ?? 0
        let bucketText = StatusReport.duration(t.bucket)
        let outageText =
            t.outages.isEmpty
            ? "no outage" : t.outages.count == 1 ? "1 outage, hatched" : "\(t.outages.count) outages, hatched"
        let throughput = TimeChart(
            id: "chart-rate",
            title: "Calls and registrations per second",
            summary:
                "Average per \(bucketText): peak \(rounded(peak)) calls/s against the vendor's limit of "
                + "\(Int(vendorLimit))/s; \(t.totalRateLimited) × 429 (red marks under the axis); \(outageText).",
            unit: "per second",
            start: t.start,
            bucket: t.bucket,
            series: [
                .init(name: "API calls / s (every method)", values: callRates),
                .init(name: "registrations / s", values: registrationRates),
            ],
            reference: (vendorLimit, "vendor limit \(Int(vendorLimit))/s"),
            bands: bands,
            marks: marks
        )
        let present = CallOutcome.callClasses.filter { (t.byClass[$0] ?? []).contains { $0 > 0 } }
        let classes = TimeChart(
            id: "chart-classes",
            title: "Answers by class",
            summary:
                "Calls per second per \(bucketText) by what the answer proved: "
                + present.map { "\($0.label) \(t.byClass[$0]?.reduce(0, +) ?? 0)" }.joined(separator: ", ") + ".",
            unit: "calls per second",
            start: t.start,
            bucket: t.bucket,
            series: present.map { .init(name: $0.label, values: t.rates(t.byClass[$0] ?? [], end: last)) },
            bands: bands,
            marks: marks
        )
        let quantiles: [(String, Double)] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
        let latencySeries = quantiles.map { name, q in
            TimeChart.Series(name: "\(name) latency", values: (0..<t.count).map { t.latency($0, quantile: q) })
        }
        let worst = latencySeries.last?.values.compactMap { $0 }.max() ?? 0
        let latency = TimeChart(
            id: "chart-latency",
            title: "Latency (p50, p90, p99)",
            summary:
                "Milliseconds from a request leaving to its answer, per \(bucketText), on a logarithmic scale; "
                + "the worst p99 is \(Int(worst)) ms (timeouts count as their full wait).",
            unit: "milliseconds (log)",
            start: t.start,
            bucket: t.bucket,
            series: latencySeries,
            bands: bands,
            logScale: true
        )
        return [throughput, classes, latency].map { chart in
            ChartView(
                title: chart.title,
                svg: chart.svg(),
                legend: chart.legend().map { LegendItem(name: $0.name, swatch: $0.swatch) },
                caption: chart.summary
            )
        }
    }

    static func rounded(_ value: Double) -> String { String((value * 10).rounded() / 10) }

    /// `1,234,567`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }
}
