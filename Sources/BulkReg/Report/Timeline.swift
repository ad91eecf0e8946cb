import Foundation

/// The call history folded into at most `maxBuckets` equal time buckets: calls and
/// registrations, answers by class, latency histograms, 429s and outages. Memory is fixed by
/// the bucket count, not by the number of calls (fed one row at a time, in `calls.id` order).
package struct Timeline: Sendable {
    package static let maxBuckets = 240
    /// Latency bins: four per doubling of milliseconds, up to 2^18 ms (about 4.4 minutes).
    static let bins = 73

    package let start: Double
    package let bucket: Double
    package let count: Int
    package private(set) var calls: [Int]
    package private(set) var registered: [Int]
    package private(set) var byClass: [CallOutcome: [Int]] = [:]
    private var latency: [[Int32]]
    package private(set) var outages: [OutageDetector.Outage] = []
    package private(set) var totalCalls = 0
    package private(set) var totalRateLimited = 0
    private var detector = OutageDetector()

    /// A timeline from `first` to `last` (wall-clock seconds of the first call's start and the
    /// last call's end).
    package init(first: Double, last: Double) {
        let span = max(last - first, 1)
        let width = Self.bucketWidth(span: span)
        start = (first / width).rounded(.down) * width
        bucket = width
        count = max(1, min(Self.maxBuckets, Int(((last - start) / width).rounded(.up))))
        calls = Array(repeating: 0, count: count)
        registered = Array(repeating: 0, count: count)
        latency = Array(repeating: Array(repeating: 0, count: Self.bins), count: count)
    }

    /// The smallest round width that puts `span` seconds in at most `maxBuckets` buckets.
    static func bucketWidth(span: Double) -> Double {
        let widths: [Double] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        ]
        if let w = widths.first(where: { span / $0 <= Double(maxBuckets) - 1 }) { return w }
        return (span / Double(maxBuckets - 1) / 86400).rounded(.up) * 86400
    }

    func index(_ time: Double) -> Int { min(count - 1, max(0, Int((time - start) / bucket))) }

    static func bin(milliseconds ms: Double) -> Int {
        guard ms >= 1 else { return 0 }
        return min(bins - 1, 1 + Int((log2(ms) * 4).rounded(.down)))
    }

    /// The upper edge of a bin in milliseconds.
    static func binValue(_ bin: Int) -> Double { bin == 0 ? 1 : pow(2, Double(bin) / 4) }

    package mutating func add(_ call: CallRecord) {
        let b = index(call.at)
        if call.method == .check {
            if call.outcome == .found { registered[b] += 1 }
            return
        }
        calls[b] += 1
        totalCalls += 1
        byClass[call.outcome, default: Array(repeating: 0, count: count)][b] += 1
        if call.outcome == .rateLimited { totalRateLimited += 1 }
        if call.method == .register && call.outcome == .success { registered[b] += 1 }
        latency[b][Self.bin(milliseconds: call.latency * 1000)] += 1
        if let outage = detector.feed(at: call.at, latency: call.latency, outcome: call.outcome, reason: call.reason) {
            outages.append(outage)
        }
    }

    /// Call when every row is in.
    package mutating func finish() {
        if let outage = detector.finish() { outages.append(outage) }
    }

    /// Seconds of bucket `b` that the history covers (the last bucket may be partial).
    func seconds(_ b: Int, end: Double) -> Double {
        let from = start + Double(b) * bucket
        return max(1, min(bucket, end - from))
    }

    /// The `q` quantile (0…1) of bucket `b`'s latencies in milliseconds (the bin's upper edge:
    /// within 19%), nil for a bucket without calls.
    package func latency(_ b: Int, quantile q: Double) -> Double? {
        let row = latency[b]
        let n = row.reduce(0) { $0 + Int($1) }
        guard n > 0 else { return nil }
        let rank = max(1, Int((q * Double(n)).rounded(.up)))
        var seen = 0
        for (bin, c) in row.enumerated() {
            seen += Int(c)
            if seen >= rank { return Self.binValue(bin) }
        }
        return Self.binValue(Self.bins - 1)
    }

    /// Per-second rates of `counts` (nil for buckets with no calls at all, so gaps between runs
    /// are not drawn as zero).
    func rates(_ counts: [Int], end: Double) -> [Double?] {
        (0..<count).map { b in calls[b] == 0 && counts[b] == 0 ? nil : Double(counts[b]) / seconds(b, end: end) }
    }
}
