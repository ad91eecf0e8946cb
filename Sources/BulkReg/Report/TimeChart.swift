import Foundation

/// The report's one chart type: values over time as lines, in SVG. Series differ by dash
/// pattern as well as colour (they survive greyscale printing); outages are hatched bands,
/// 429s small marks under the time axis, a reference line (the limit) is labelled on the
/// chart. The SVG carries a title and a description (its text alternative).
struct TimeChart: Sendable {
    struct Series: Sendable {
        var name: String
        /// One value per bucket; nil where there is nothing to show (a gap in the line).
        var values: [Double?]
    }

    /// A hatched span of time (an outage), labelled.
    typealias Band = (from: Double, to: Double, label: String)
    /// A labelled moment under the time axis (429s).
    typealias Mark = (at: Double, label: String)

    var id: String
    var title: String
    /// The text alternative: what the chart shows, in a sentence or two.
    var summary: String
    var unit: String
    /// Wall-clock start of the first bucket and the width of each (seconds).
    var start: Double
    var bucket: Double
    var series: [Series]
    var reference: (value: Double, label: String)?
    var bands: [Band] = []
    var marks: [Mark] = []
    /// Decades on the value axis (latency).
    var logScale = false

    /// Stroke colour and dash pattern of series `index` (distinct in greyscale too).
    static let styles: [(color: String, dash: String, width: Double)] = [
        ("#111111", "", 2.2), ("#1d4ed8", "7 4", 2), ("#b91c1c", "2 3", 2.4), ("#6d28d9", "10 3 2 3", 2),
        ("#047857", "1 3", 2.6), ("#92400e", "12 4", 1.6), ("#475569", "4 2 1 2", 2), ("#be185d", "3 6", 2.4),
        ("#0f766e", "14 2", 1.4),
    ]

    static let width = 720.0
    static let height = 250.0
    static let left = 58.0
    static let right = 14.0
    static let top = 14.0
    static let bottom = 46.0

    var buckets: Int { series.map(\.values.count).max() ?? 0 }
    var end: Double { start + bucket * Double(max(1, buckets)) }

    /// The value axis: its top and the gridline values.
    func axis() -> (top: Double, ticks: [Double]) {
        let values = series.flatMap { $0.values.compactMap { $0 } } + (reference.map { [$0.value] } ?? [])
        let highest = values.max() ?? 0
        if logScale {
            var top = 10.0
            while top < highest { top *= 10 }
            var ticks: [Double] = []
            var t = 1.0
            while t <= top {
                ticks.append(t)
                t *= 10
            }
            return (top, ticks)
        }
        let top = Self.niceCeiling(highest * 1.08)
        let step = Self.niceCeiling(top / 5)
        var ticks: [Double] = []
        var t = 0.0
        while t <= top + step / 1000 {
            ticks.append(t)
            t += step
        }
        return (ticks.last ?? top, ticks)
    }

    /// 1, 2, 2.5, 5 × 10^k at or above `value` (1 for 0).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    func x(_ time: Double) -> Double {
        let span = max(end - start, 1)
        return Self.left + (time - start) / span * (Self.width - Self.left - Self.right)
    }

    func y(_ value: Double, top: Double) -> Double {
        let plot = Self.height - Self.top - Self.bottom
        if logScale {
            let v = max(value, 1)
            return Self.height - Self.bottom - (log10(v) / max(log10(top), 1)) * plot
        }
        return Self.height - Self.bottom - min(value, top) / top * plot
    }

    /// The chart as an SVG element (inline in the page).
    func svg() -> String {
        let (top, ticks) = axis()
        var out = """
            <svg id="\(id)" class="chart" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" role="img" \
            aria-labelledby="\(id)-title \(id)-desc" xmlns="http://www.w3.org/2000/svg">
            <title id="\(id)-title">\(escape(title))</title><desc id="\(id)-desc">\(escape(summary))</desc>
            <defs><pattern id="\(id)-hatch" width="6" height="6" patternUnits="userSpaceOnUse" \
            patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/>\
            <line x1="0" y1="0" x2="0" y2="6" stroke="#9ca3af" stroke-width="2"/></pattern></defs>

            """
        let plotBottom = Self.height - Self.bottom
        for band in bands {
            let x0 = x(max(band.from, start))
            let x1 = max(x(min(band.to, end)), x0 + 2)
            out += """
                <rect class="outage" x="\(f(x0))" y="\(f(Self.top))" width="\(f(x1 - x0))" \
                height="\(f(plotBottom - Self.top))" fill="url(#\(id)-hatch)"><title>\(escape(band.label))</title></rect>

                """
        }
        for tick in ticks {
            let ty = y(tick, top: top)
            out += """
                <line x1="\(f(Self.left))" y1="\(f(ty))" x2="\(f(Self.width - Self.right))" y2="\(f(ty))" \
                stroke="#d1d5db" stroke-width="1"/><text x="\(f(Self.left - 6))" y="\(f(ty + 4))" \
                text-anchor="end" class="tick">\(Self.number(tick))</text>

                """
        }
        out += """
            <text x="12" y="\(f(Self.top + (plotBottom - Self.top) / 2))" class="unit" \
            transform="rotate(-90 12 \(f(Self.top + (plotBottom - Self.top) / 2)))" text-anchor="middle">\(escape(unit))</text>

            """
        for (time, label) in timeTicks() {
            let tx = x(time)
            // A label at the right edge ends there instead of being cut off.
            let anchor = tx > Self.width - 30 ? "end" : "middle"
            out += """
                <line x1="\(f(tx))" y1="\(f(plotBottom))" x2="\(f(tx))" y2="\(f(plotBottom + 4))" stroke="#374151"/>\
                <text x="\(f(tx))" y="\(f(plotBottom + 16))" text-anchor="\(anchor)" class="tick">\(label)</text>

                """
        }
        out += """
            <line x1="\(f(Self.left))" y1="\(f(plotBottom))" x2="\(f(Self.width - Self.right))" y2="\(f(plotBottom))" \
            stroke="#374151" stroke-width="1.2"/>

            """
        if let reference {
            let ry = y(reference.value, top: top)
            out += """
                <line class="limit" x1="\(f(Self.left))" y1="\(f(ry))" x2="\(f(Self.width - Self.right))" y2="\(f(ry))" \
                stroke="#dc2626" stroke-width="1.5" stroke-dasharray="1 4" stroke-linecap="round"/>\
                <text x="\(f(Self.width - Self.right - 4))" y="\(f(ry - 5))" text-anchor="end" class="limit-label">\
                \(escape(reference.label))</text>

                """
        }
        for (index, series) in series.enumerated() {
            let style = Self.styles[index % Self.styles.count]
            var path = ""
            var pen = false
            for (b, value) in series.values.enumerated() {
                guard let value else {
                    pen = false
                    continue
                }
                let px = x(start + (Double(b) + 0.5) * bucket)
                path += "\(pen ? "L" : "M")\(f(px)) \(f(y(value, top: top)))"
                pen = true
            }
            guard !path.isEmpty else { continue }
            let dash = style.dash.isEmpty ? "" : " stroke-dasharray=\"\(style.dash)\""
            out += """
                <path class="series" d="\(path)" fill="none" stroke="\(style.color)" stroke-width="\(style.width)"\(dash) \
                stroke-linejoin="round"><title>\(escape(series.name))</title></path>

                """
        }
        for mark in marks {
            let mx = x(mark.at)
            out += """
                <path class="rate-limited" d="M\(f(mx)) \(f(plotBottom + 22))l-4 7h8z" fill="#dc2626">\
                <title>\(escape(mark.label))</title></path>

                """
        }
        out += "</svg>"
        return out
    }

    /// The legend: each series' name beside a sample of its line.
    func legend() -> [(name: String, swatch: String)] {
        series.enumerated().map { index, series in
            let style = Self.styles[index % Self.styles.count]
            let dash = style.dash.isEmpty ? "" : " stroke-dasharray=\"\(style.dash)\""
            return (
                series.name,
                """
                <svg width="34" height="10" aria-hidden="true"><line x1="1" y1="5" x2="33" y2="5" stroke="\(style.color)" \
                stroke-width="\(style.width)"\(dash)/></svg>
                """
            )
        }
    }

    /// About six labelled instants on the time axis, at round times (UTC).
    func timeTicks() -> [(Double, String)] {
        let span = end - start
        let steps: [Double] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        ]
        let step = steps.first { span / $0 <= 6 } ?? (span / 6).rounded(.up)
        var t = (start / step).rounded(.up) * step
        var out: [(Double, String)] = []
        let days = span > 86400
        while t <= end {
            let iso = WallClock.iso8601(t)  // 2026-12-02T21:05:03Z
            let time = step < 60 ? String(iso.dropFirst(11).prefix(8)) : String(iso.dropFirst(11).prefix(5))
            out.append((t, days ? "\(iso.dropFirst(5).prefix(5)) \(time)" : time))
            t += step
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value >= 1000, value.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int(value / 1000))k" }
        if value == value.rounded() { return "\(Int(value))" }
        return String((value * 10).rounded() / 10)
    }

    func f(_ value: Double) -> String {
        let r = (value * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    func escape(_ text: String) -> String { HTMLText.escape(text) }
}

/// Text for HTML and SVG: `&`, `<`, `>`, `"` and `'` escaped.
enum HTMLText {
    static let entities: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"]

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            if let entity = entities[c] { out += entity } else { out.append(c) }
        }
        return out
    }
}
