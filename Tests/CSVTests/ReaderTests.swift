import CSV
import Foundation
import Testing

@Suite("Reader: structure, line numbers, quoting")
struct ReaderTests {
    @Test("simple records, final line without newline, trailing empty field")
    func simple() throws {
        #expect(
            try checkedTranscript("a,b,c\n1,2,3") == [
                .record(["a", "b", "c"], line: 1), .record(["1", "2", "3"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript("a,\n,b\n,\n") == [
                .record(["a", ""], line: 1), .record(["", "b"], line: 2), .record(["", ""], line: 3),
            ]
        )
        #expect(try checkedTranscript("x,") == [.record(["x", ""], line: 1)])
        #expect(try checkedTranscript("\"\"") == [.record([""], line: 1)])
        #expect(try checkedTranscript("\"\"\n\"\"\r\n") == [.record([""], line: 1), .record([""], line: 2)])
    }

    @Test("empty input, only blank lines, only a header")
    func degenerate() throws {
        #expect(try checkedTranscript("") == [])
        #expect(try checkedTranscript("\n") == [])
        #expect(try checkedTranscript("\r\n\r\n\n\r\r\n") == [])
        #expect(try checkedTranscript("\u{FEFF}") == [])
        #expect(try checkedTranscript("email,name") == [.record(["email", "name"], line: 1)])
        #expect(try checkedTranscript("email,name\r\n") == [.record(["email", "name"], line: 1)])
        #expect(try checkedTranscript("\n\nemail,name\n\n") == [.record(["email", "name"], line: 3)])
    }

    @Test("blank lines are skipped but counted")
    func blankLines() throws {
        let t = try checkedTranscript(Fixtures.bytes("csv/blank-lines.csv"))
        #expect(
            t == [
                .record(["email", "name"], line: 2),
                .record(["a@example.com", "Ann"], line: 4),
                .record(["b@example.com", "Bob"], line: 7),
            ]
        )
        // CR LF split as CR + blank? No: CRLF is one break; CR CR is two; LF CR is two.
        #expect(
            try checkedTranscript("a\r\r\nb\n\rc\r\rd") == [
                .record(["a"], line: 1), .record(["b"], line: 3), .record(["c"], line: 5), .record(["d"], line: 7),
            ]
        )
    }

    @Test("CR-only (Excel for Mac) and mixed line endings")
    func lineEndings() throws {
        let t = try checkedTranscript(Fixtures.bytes("csv/excel-mac-cr.csv"))
        #expect(
            t == [
                .record(["first", "last", "email"], line: 1),
                .record(["Zoë", "Ng", "z@x.io"], line: 2),
                .record(["Ann", "O\"Neil", "a@x.io"], line: 3),
            ]
        )
        let m = try checkedTranscript(Fixtures.bytes("csv/mixed-line-endings.csv"))
        #expect(
            m == [
                .record(["a", "b"], line: 1), .record(["1", "2"], line: 2), .record(["3", "4"], line: 3),
                .record(["5", "6"], line: 4), .record(["7", "8"], line: 5),
            ]
        )
    }

    @Test("quoted newlines are kept verbatim and line numbers stay right")
    func quotedNewlines() throws {
        let t = try checkedTranscript(Fixtures.bytes("csv/quoted-newlines.csv"))
        #expect(
            t == [
                .record(["name", "address", "email"], line: 1),
                .record(["Smith, John", "1 Main St\r\nApt 4\r\nSpringfield", "j@example.com"], line: 2),
                .record(["Ann", "PO Box 7\nNowhere", "a@example.com"], line: 5),
                .record(["Bob", "Here", "b@example.com"], line: 7),
            ]
        )
        // Lone CR and LF CR inside quotes, at the very start and end of a field.
        #expect(
            try checkedTranscript("\"\r\",\"\n\r\",\"x\r\r\n\"\nend\n") == [
                .record(["\r", "\n\r", "x\r\r\n"], line: 1),
                .record(["end"], line: 7),
            ]
        )
    }

    @Test("RFC 4180 quoting: delimiters, doubled quotes, empty quoted fields")
    func quoting() throws {
        #expect(
            try checkedTranscript("\"a,b\",\"c\"\"d\",\"\",\"\"\"\"\n") == [
                .record(["a,b", "c\"d", "", "\""], line: 1)
            ]
        )
        #expect(try checkedTranscript("\"ha \"\"ha\"\" ha\",x") == [.record(["ha \"ha\" ha", "x"], line: 1)])
    }

    @Test("lenient: stray quotes in unquoted fields and text after a closing quote are literal")
    func strayQuotes() throws {
        #expect(
            try checkedTranscript("ab\"c,d\"\n5'11\",x\n") == [
                .record(["ab\"c", "d\""], line: 1), .record(["5'11\"", "x"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript("\"ab\"c,\"x\" y,\"q\"\"\"z\n") == [
                .record(["abc", "x y", "q\"z"], line: 1)
            ]
        )
        // After the closing quote, further quotes are literal too.
        #expect(try checkedTranscript("\"a\"b\"c\",d\n") == [.record(["ab\"c\"", "d"], line: 1)])
    }

    @Test(
        "a fixture whose line 3 is bad: lines 1 and 2 read, then the error names line 3 (and reading goes on if it can)",
        arguments: [
            ("csv/invalid-utf8.csv", CSVError.Code.invalidUTF8, [Event.record(["c@example.com", "Cy"], line: 4)]),
            ("csv/nul-byte.csv", .nulByte, []),
            ("csv/unterminated-quote.csv", .unterminatedQuote, []),
        ]
    )
    func badThirdLine(fixture: String, error: CSVError.Code, after: [Event]) throws {
        let header = Event.record(["email", "name"], line: 1)
        let ann = Event.record(["a@example.com", "Ann"], line: 2)
        #expect(try checkedTranscript(Fixtures.bytes(fixture)) == [header, ann, .error(error, line: 3)] + after)
    }

    @Test("unterminated quote names the line where it opened, also at EOF, and is sticky")
    func unterminatedQuote() throws {
        #expect(
            try checkedTranscript("a,b\n1,\"") == [.record(["a", "b"], line: 1), .error(.unterminatedQuote, line: 2)]
        )
        #expect(
            try checkedTranscript("a\n\n\"x\r\ny\r") == [.record(["a"], line: 1), .error(.unterminatedQuote, line: 3)]
        )
        #expect(try checkedTranscript("\"ab\"\"") == [.error(.unterminatedQuote, line: 1)])

        let reader = try CSVReader(bytes: Array("\"abc".utf8))
        let e = try #require(throws: CSVError.self) { try reader.next() }
        #expect(e.code == .unterminatedQuote)
        #expect(e.line == 1)
        #expect(e.message == "unterminated quoted field starting at line 1")
        #expect(!e.isRecoverable)
        #expect(throws: e, "the sticky error again") { try reader.next() }
    }

    @Test("delimiter sniffing among , ; tab |")
    func sniffing() throws {
        func sniff(_ s: String) throws -> CSVDelimiter { try CSVReader(bytes: Array(s.utf8)).delimiter }
        #expect(try sniff("a,b,c\n1,2,3\n") == .comma)
        #expect(try sniff("a;b;c\n1;2;3\n") == .semicolon)
        #expect(try sniff("a\tb\tc\n1\t2\t3\n") == .tab)
        #expect(try sniff("a|b|c\n1|2|3\n") == .pipe)
        // Decimal commas (Excel FR/DE): `;` is consistent, `,` is not (and absent from the header).
        #expect(try sniff("Nom;Montant\nA;1,5\nB;2,75\n") == .semicolon)
        // Delimiters inside quotes do not count.
        #expect(try sniff("\"a,b,c,d\";x\n\"e,f,g\";y\n") == .semicolon)
        // Consistency beats raw count: `,` appears 3 times in line 1 but inconsistently.
        #expect(try sniff("a|b,c,d,e\n1|2,3\n4|5\n") == .pipe)
        // Nothing found: a single column defaults to `,`.
        #expect(try sniff("email\na@x\n") == .comma)
        #expect(try sniff("") == .comma)
        // Only one (unterminated) line.
        #expect(try sniff("a;b;c") == .semicolon)
        // The sniffed data is still all delivered.
        #expect(try checkedTranscript("a;b\n1;2") == [.record(["a", "b"], line: 1), .record(["1", "2"], line: 2)])
        #expect(
            try checkedTranscript(Fixtures.bytes("csv/pipe.csv")) == [
                .record(["email", "name"], line: 1),
                .record(["a@example.com", "Ann"], line: 2),
                .record(["b@example.com", "Bob | Jr"], line: 3),
            ]
        )
    }

    @Test("sniffing looks past the first chunk and sees more than one line")
    func sniffingBeyondChunk() throws {
        // Line 1 is ambiguous (one `,` and one `;`); lines 2-3 settle it.
        let text = "a,x;b\n1;2\n3;4\n"
        for size in [1, 3, 64] {
            let r = try CSVReader(bytes: Array(text.utf8), options: CSVReaderOptions(chunkSize: size))
            #expect(r.delimiter == .semicolon)
            #expect(try readAll(r).map(\.fields) == [["a,x", "b"], ["1", "2"], ["3", "4"]])
        }
    }

    @Test("explicit delimiter overrides sniffing")
    func explicitDelimiter() throws {
        let text = "a;b,c\n1;2,3\n"
        #expect(
            try checkedTranscript(text, CSVReaderOptions(delimiter: .comma)) == [
                .record(["a;b", "c"], line: 1), .record(["1;2", "3"], line: 2),
            ]
        )
        #expect(
            try checkedTranscript(text, CSVReaderOptions(delimiter: .semicolon)) == [
                .record(["a", "b,c"], line: 1), .record(["1", "2,3"], line: 2),
            ]
        )
        let tab = try #require(CSVDelimiter("\t"))
        #expect(tab == .tab)
        #expect(
            try checkedTranscript("a\tb,c\n", CSVReaderOptions(delimiter: tab)) == [.record(["a", "b,c"], line: 1)]
        )
        #expect(CSVDelimiter("\"") == nil)
        #expect(CSVDelimiter("\n") == nil)
        #expect(CSVDelimiter("é") == nil)
        #expect(CSVDelimiter(byte: 0) == nil)
        #expect(CSVDelimiter.tab.description == "tab")
        #expect(CSVDelimiter.semicolon.character == ";")
    }

    @Test("cursor API: advance, fieldCount, field, withFieldBytes, next(into:)")
    func cursorAPI() throws {
        let r = try CSVReader(bytes: Array("a,\"b\"\"c\"\n\n1,é\n".utf8))
        #expect(try r.advance())
        #expect(r.line == 1)
        #expect(r.fieldCount == 2)
        #expect(r.field(0) == "a")
        #expect(r.field(1) == "b\"c")
        let n = r.withFieldBytes(1) { $0.count }
        #expect(n == 3)
        // Re-entrant use inside the closure is fine.
        let nested = r.withFieldBytes(0) { outer in r.withFieldBytes(1) { outer.count + $0.count } }
        #expect(nested == 4)
        var rec = CSVRecord(fields: ["old"], line: 0)
        #expect(try r.next(into: &rec))
        #expect(rec == CSVRecord(fields: ["1", "é"], line: 3))
        #expect(try !r.next(into: &rec))
        #expect(rec.line == 3)
        #expect(try !r.advance())
        #expect(try r.next() == nil)
    }

    @Test("reading from a path, a descriptor, and error cases without the path in messages")
    func filesAndDescriptors() throws {
        let path = temporaryPath("fd.csv")
        try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        #expect(try readAll(try CSVReader(path: path)).map(\.fields) == [["a", "b"], ["1", "2"]])

        // A descriptor the reader does not own stays open; one it owns is closed on deinit.
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        do {
            let r = try CSVReader(fileDescriptor: fd)
            #expect(try readAll(r).count == 2)
        }
        #expect(fcntl(fd, F_GETFD) != -1)
        let high: Int32 = 917
        #expect(dup2(fd, high) == high)
        close(fd)
        #expect(lseek(high, 0, SEEK_SET) == 0)
        do {
            let r = try CSVReader(fileDescriptor: high, closeOnDeinit: true)
            #expect(try r.next()?.fields == ["a", "b"])
        }
        #expect(fcntl(high, F_GETFD) == -1 && errno == EBADF)

        // close() ends the input early.
        let r = try CSVReader(path: path)
        r.close()
        #expect(try r.next() == nil)

        let missing = try #require(throws: CSVError.self) { try CSVReader(path: path + ".missing") }
        #expect(missing.code == .io(errno: ENOENT))
        #expect(missing.line == nil)
        #expect(!missing.message.contains("csvtests"))
        #expect(missing.message == "open failed: no such file or directory (errno 2)")
        let directory = try #require(throws: CSVError.self) {
            try CSVReader(path: FileManager.default.temporaryDirectory.path)
        }
        #expect(directory.code == .notAFile)
        let zeroChunk = try #require(throws: CSVError.self) {
            try CSVReader(bytes: [], options: CSVReaderOptions(chunkSize: 0))
        }
        #expect(zeroChunk.code == .invalidOption)
    }

    @Test("random inputs parse identically whatever the chunk size (seeded)")
    func chunkInvariance() throws {
        var rng = SplitMix64(seed: 0xC5F)
        let alphabet: [[UInt8]] = [
            [0x61], [0x62], [0x2C], [0x3B], [0x09], [0x7C], [0x22], [0x22, 0x22], [0x0D], [0x0A], [0x0D, 0x0A],
            [0x20], Array("é".utf8), Array("😀".utf8), [0xFF], [0x00], [0xC3],
        ]
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...60, using: &rng) {
                bytes += alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
            }
            var o = CSVReaderOptions(maxFieldBytes: 12, maxRecordBytes: 30, maxFields: 6)
            _ = try checkedTranscript(bytes, o)
            o.delimiter = .comma
            _ = try checkedTranscript(bytes, o)
        }
    }
}
