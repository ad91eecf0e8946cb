import CSV
import Foundation
import Testing

/// Inputs found by `scripts/fuzz` (fixtures/fuzz/), replayed with the fuzz harness's options.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// The harness's "auto delimiter, small caps" configuration.
    static let smallCaps = CSVReaderOptions(delimiter: nil, maxFieldBytes: 64, maxRecordBytes: 256, maxFields: 16)

    @Test("cap errors do not depend on the chunk size (UTF-16 input)")
    func capOrderUTF16() throws {
        // One append crossed both caps with big chunks (reported fieldTooLarge) while byte-wise
        // appending hits the record cap first (reported recordTooLarge with small chunks).
        let bytes = try Fixtures.bytes("fuzz/crash-9268fcaf-cap-order-utf16.csv")
        let r = try CSVReader(bytes: bytes, options: Self.smallCaps)
        #expect(r.encoding == .utf16LittleEndian)
        #expect(r.delimiter == .tab)
        #expect(try checkedTranscript(bytes, Self.smallCaps) == [.error(.recordTooLarge, line: 1)])
    }

    @Test("cap errors do not depend on the chunk size (UTF-8 input)")
    func capOrderUTF8() throws {
        let bytes = try Fixtures.bytes("fuzz/crash-a680259e-cap-order-utf8.csv")
        let t = try checkedTranscript(bytes, Self.smallCaps)
        #expect(t.count == 14)
        #expect(t.contains(.error(.recordTooLarge, line: 13)))
        #expect(!t.contains(.error(.fieldTooLarge, line: 13)))
        #expect(t.filter { if case .record = $0 { return true } else { return false } }.count == 2)
    }

    @Test("the cap crossed first byte-wise is the one reported")
    func capOrderMinimal() throws {
        // Record so far: 31 fields of 8 bytes + one of 2 = 250 bytes; the next 10-byte field
        // crosses the record cap (256) at its 7th byte, before the field cap (8) at its 9th.
        let line = Array(repeating: "aaaaaaaa", count: 31).joined(separator: ",") + ",aa,bbbbbbbbbb\nok\n"
        let o = CSVReaderOptions(delimiter: .comma, maxFieldBytes: 8, maxRecordBytes: 256)
        #expect(try checkedTranscript(line, o) == [.error(.recordTooLarge, line: 1), .record(["ok"], line: 2)])
        // Field cap first: crossed at the 9th byte of a 10-byte field, the record cap is far.
        let o2 = CSVReaderOptions(delimiter: .comma, maxFieldBytes: 8, maxRecordBytes: 256)
        #expect(
            try checkedTranscript("x,bbbbbbbbbb\nok\n", o2) == [
                .error(.fieldTooLarge, line: 1), .record(["ok"], line: 2),
            ]
        )
        // Both at the same byte: the field cap wins (checked first, like byte-wise appends).
        let o3 = CSVReaderOptions(delimiter: .comma, maxFieldBytes: 4, maxRecordBytes: 6)
        #expect(
            try checkedTranscript("ab,cdefg\nok\n", o3) == [.error(.fieldTooLarge, line: 1), .record(["ok"], line: 2)]
        )
    }
}
