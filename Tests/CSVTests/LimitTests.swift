import CSV
import Foundation
import Testing

@Suite("Reader: caps and hostile input")
struct LimitTests {
    @Test("defaults")
    func defaults() {
        let o = CSVReaderOptions()
        #expect(o.delimiter == nil)
        #expect(o.chunkSize == 128 * 1024)
        #expect(o.maxFieldBytes == 1 << 20)
        #expect(o.maxRecordBytes == 16 << 20)
        #expect(o.maxFields == 16_384)
    }

    @Test("maxFieldBytes, maxRecordBytes, maxFields: error with line, then the next record")
    func caps() throws {
        #expect(
            try checkedTranscript("a,b\n123456,x\nc,d\n", CSVReaderOptions(maxFieldBytes: 5)) == [
                .record(["a", "b"], line: 1), .error(.fieldTooLarge, line: 2), .record(["c", "d"], line: 3),
            ]
        )
        // Exactly at the cap is fine.
        #expect(
            try checkedTranscript("12345,\"1\"\"34\"", CSVReaderOptions(maxFieldBytes: 5)) == [
                .record(["12345", "1\"34"], line: 1)
            ]
        )
        #expect(
            try checkedTranscript("abc,def,g\nx,y\n", CSVReaderOptions(maxRecordBytes: 6)) == [
                .error(.recordTooLarge, line: 1), .record(["x", "y"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript("abc,def\n", CSVReaderOptions(maxRecordBytes: 6)) == [
                .record(["abc", "def"], line: 1)
            ]
        )
        #expect(
            try checkedTranscript("a,b,c,d\n1,2,3\n", CSVReaderOptions(maxFields: 3)) == [
                .error(.tooManyFields, line: 1), .record(["1", "2", "3"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript("a,b,\"c\",d\r\n1,2,3\r\n", CSVReaderOptions(maxFields: 3)) == [
                .error(.tooManyFields, line: 1), .record(["1", "2", "3"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript("a,b,c,\"d\"\r\n1,2,3", CSVReaderOptions(maxFields: 3)) == [
                .error(.tooManyFields, line: 1), .record(["1", "2", "3"], line: 2),
            ]
        )
        // A cap hit on a quoted CR of a CRLF pair: the LF is not counted twice.
        #expect(
            try checkedTranscript("\"ab\r\ncd\"\nx", CSVReaderOptions(maxFieldBytes: 2)) == [
                .error(.fieldTooLarge, line: 1), .record(["x"], line: 3),
            ]
        )
        #expect(
            try checkedTranscript("\"ab\r\ncd\"\nx", CSVReaderOptions(maxFieldBytes: 3)) == [
                .error(.fieldTooLarge, line: 1), .record(["x"], line: 3),
            ]
        )
        #expect(
            try checkedTranscript("\"ab\"\"\"\nx", CSVReaderOptions(maxFieldBytes: 2)) == [
                .error(.fieldTooLarge, line: 1), .record(["x"], line: 2),
            ]
        )
        // The skipped record spans lines: the next one still has the right line.
        #expect(
            try checkedTranscript("\"aaaa\nbbbb\ncccc\",x\nnext,1\n", CSVReaderOptions(maxFieldBytes: 6)) == [
                .error(.fieldTooLarge, line: 1), .record(["next", "1"], line: 4),
            ]
        )
        // Second field of a record starting on a later line.
        #expect(
            try checkedTranscript("h\n\"a\nb\",\"cccccccc\"\nz", CSVReaderOptions(maxFieldBytes: 6)) == [
                .record(["h"], line: 1), .error(.fieldTooLarge, line: 3), .record(["z"], line: 4),
            ]
        )
        // A cap hit inside an unterminated quote ends with the unterminated-quote error.
        #expect(
            try checkedTranscript("x,\"abcdefgh", CSVReaderOptions(maxFieldBytes: 4)) == [
                .error(.fieldTooLarge, line: 1), .error(.unterminatedQuote, line: 1),
            ]
        )
        let r = try CSVReader(bytes: Array("x,\"abcdefgh\n".utf8), options: CSVReaderOptions(maxFieldBytes: 4))
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(error.message == "field 2 starting at line 1 exceeds 4 bytes (maxFieldBytes) (an unterminated quote?)")
    }

    @Test("100,000 columns: rejected by default (Excel's 16,384), read exactly when allowed")
    func manyColumns() throws {
        let n = 100_000
        let line = (0..<n).map { "c\($0)" }.joined(separator: ",")
        let bytes = Array((line + "\n" + line).utf8)
        let r = try CSVReader(bytes: bytes)
        #expect(r.delimiter == .comma)
        let first = try #require(throws: CSVError.self) { try r.next() }
        #expect(first.code == .tooManyFields)
        #expect(first.line == 1)
        #expect(first.message == "record at line 1 has more than 16384 fields (maxFields)")
        let second = try #require(throws: CSVError.self) { try r.next() }  // line 2 is too wide too
        #expect(second.line == 2)
        #expect(try r.next() == nil)

        let ok = try CSVReader(bytes: bytes, options: CSVReaderOptions(maxFields: n))
        let rec = try #require(try ok.next())
        #expect(rec.fields.count == n)
        #expect(rec.fields.first == "c0")
        #expect(rec.fields.last == "c99999")
        #expect(rec.fields[54_321] == "c54321")
        #expect(try ok.next()?.line == 2)

        let tooMany = try CSVReader(bytes: Array((line + ",extra").utf8), options: CSVReaderOptions(maxFields: n))
        #expect(transcript(tooMany) == [.error(.tooManyFields, line: 1)])
    }

    @Test("a 10 MB quoted field: clear error by default, works with a raised cap")
    func tenMegabyteField() throws {
        // 1000 lines of 9,999 'x' + LF = exactly 10,000,000 bytes, with "" escapes sprinkled in.
        var field = [UInt8]()
        field.reserveCapacity(10_000_100)
        for i in 0..<1000 {
            var lineBytes = [UInt8](repeating: UInt8(ascii: "x"), count: 9_999)
            if i % 100 == 0 { lineBytes[5] = UInt8(ascii: "\"") }
            field += lineBytes
            field.append(0x0A)
        }
        #expect(field.count == 10_000_000)
        var file = Array("id,notes\n1,\"".utf8)
        for b in field {
            if b == UInt8(ascii: "\"") { file.append(b) }
            file.append(b)
        }
        file += Array("\"\n2,short\n".utf8)
        let path = temporaryPath("10mb.csv")
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }

        let byDefault = try CSVReader(path: path)
        #expect(try byDefault.next()?.fields == ["id", "notes"])
        let error = try #require(throws: CSVError.self) { try byDefault.next() }
        #expect(error.code == .fieldTooLarge)
        #expect(error.line == 2)
        #expect(
            error.message == "field 2 starting at line 2 exceeds 1048576 bytes (maxFieldBytes) (an unterminated quote?)"
        )
        #expect(try byDefault.next() == CSVRecord(fields: ["2", "short"], line: 1003))

        let raised = try CSVReader(path: path, options: CSVReaderOptions(maxFieldBytes: 16 << 20))
        #expect(try raised.next()?.line == 1)
        let big = try #require(try raised.next())
        #expect(big.line == 2)
        #expect(big.fields[0] == "1")
        #expect(big.fields[1].utf8.count == 10_000_000)
        #expect(Array(big.fields[1].utf8) == field)
        #expect(try raised.next() == CSVRecord(fields: ["2", "short"], line: 1003))
        #expect(try raised.next() == nil)
    }

    @Test("a 1 GB single-line file fails fast with the line and bounded reading")
    func gigabyteLine() throws {
        let path = temporaryPath("1gb.csv")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        defer { unlink(path) }
        // Sparse 1 GB of NUL bytes (no line break anywhere), then a real row at the end.
        #expect(ftruncate(fd, 1 << 30) == 0)
        close(fd)
        let r = try CSVReader(path: path, options: CSVReaderOptions(maxFieldBytes: 64 * 1024))
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(error.code == .fieldTooLarge)
        #expect(error.line == 1)
        #expect(r.bytesRead < 1 << 20)

        // Same with printable data (8 MB of 'x', no newline) and a record cap.
        let path2 = temporaryPath("8mb.csv")
        try Data(repeating: UInt8(ascii: "x"), count: 8 << 20).write(to: URL(fileURLWithPath: path2))
        defer { unlink(path2) }
        let r2 = try CSVReader(path: path2, options: CSVReaderOptions(maxRecordBytes: 100_000))
        #expect(transcript(r2, limit: 1) == [.error(.recordTooLarge, line: 1)])
        #expect(r2.bytesRead < 1 << 20)

        // An endless stream (/dev/zero) cannot exhaust memory either.
        let zero = try CSVReader(path: "/dev/zero", options: CSVReaderOptions(maxFieldBytes: 1 << 20))
        #expect(transcript(zero, limit: 1) == [.error(.fieldTooLarge, line: 1)])
        #expect(zero.bytesRead < 2 << 20)
    }

    @Test("endless delimiters hit maxFields quickly")
    func endlessDelimiters() throws {
        let bytes = [UInt8](repeating: UInt8(ascii: ","), count: 1 << 20)
        let r = try CSVReader(bytes: bytes, options: CSVReaderOptions(maxFields: 1000))
        #expect(transcript(r, limit: 1) == [.error(.tooManyFields, line: 1)])
        #expect(r.bytesRead < 256 * 1024)
    }
}
