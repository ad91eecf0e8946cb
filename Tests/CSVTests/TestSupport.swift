import CSV
import Foundation
import Testing

/// Locates `fixtures/` relative to this source file (works in /tmp/pkg-csv and in the main repo).
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // CSVTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("fixtures")

    static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }
}

/// What a reader produced, in order: records and errors.
enum Event: Equatable, CustomStringConvertible {
    case record([String], line: Int)
    case error(CSVError.Code, line: Int?)

    var description: String {
        switch self {
        case .record(let f, let l): return "record(line \(l): \(f))"
        case .error(let c, let l): return "error(\(c) at \(l.map(String.init) ?? "-"))"
        }
    }
}

/// Reads everything, continuing after recoverable errors, stopping at a sticky one.
func transcript(_ reader: CSVReader, limit: Int = 1_000_000) -> [Event] {
    var out: [Event] = []
    while out.count < limit {
        do {
            guard let r = try reader.next() else { break }
            out.append(.record(r.fields, line: r.line))
        } catch {
            out.append(.error(error.code, line: error.line))
            if !error.isRecoverable { break }
        }
    }
    return out
}

func transcript(_ bytes: [UInt8], _ options: CSVReaderOptions = CSVReaderOptions()) throws -> [Event] {
    transcript(try CSVReader(bytes: bytes, options: options))
}

/// Chunk sizes used to shake out chunk-boundary bugs.
let shakeChunkSizes = [1, 2, 3, 4, 5, 7, 8, 13, 64, CSVReaderOptions.defaultChunkSize]

/// Parses with many chunk sizes, records an issue if any result differs from the default one,
/// and returns the default-chunk transcript.
func checkedTranscript(
    _ bytes: [UInt8],
    _ options: CSVReaderOptions = CSVReaderOptions(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> [Event] {
    var o = options
    o.chunkSize = CSVReaderOptions.defaultChunkSize
    let reference = try transcript(bytes, o)
    for size in shakeChunkSizes {
        o.chunkSize = size
        let t = try transcript(bytes, o)
        #expect(t == reference, "chunkSize \(size) differs", sourceLocation: sourceLocation)
    }
    return reference
}

func checkedTranscript(
    _ text: String,
    _ options: CSVReaderOptions = CSVReaderOptions(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> [Event] {
    try checkedTranscript(Array(text.utf8), options, sourceLocation: sourceLocation)
}

/// What the reader detected: the encoding, whether a byte order mark was there, the delimiter.
func detected(_ reader: CSVReader) -> (CSVEncoding, Bool, CSVDelimiter) {
    (reader.encoding, reader.hadByteOrderMark, reader.delimiter)
}

/// All records (throws on the first error).
func readAll(_ reader: CSVReader) throws -> [CSVRecord] {
    var out: [CSVRecord] = []
    while let r = try reader.next() { out.append(r) }
    return out
}

/// A small deterministic PRNG (SplitMix64) for seeded property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A unique temporary file path (the file is not created).
func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.path
    return "\(dir)/csvtests-\(getpid())-\(UUID().uuidString)-\(name)"
}
