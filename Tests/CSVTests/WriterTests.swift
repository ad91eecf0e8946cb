import CSV
import Foundation
import Testing

func written(_ records: [[String]], _ options: CSVWriterOptions = CSVWriterOptions()) throws -> String {
    let w = CSVWriter(options: options)
    for r in records { try w.write(record: r) }
    return String(decoding: w.memoryOutput, as: UTF8.self)
}

@Suite("Writer")
struct WriterTests {
    @Test("quotes only when needed, doubles inner quotes, CRLF by default")
    func quoting() throws {
        let fields = [
            "plain", "with,comma", "with \"quote\"", "line\nbreak", "cr\rhere", "", " spaces ", "semi;colon",
            "tab\there", "é😀", "'",
        ]
        #expect(
            try written([fields])
                == "plain,\"with,comma\",\"with \"\"quote\"\"\",\"line\nbreak\",\"cr\rhere\",, spaces ,semi;colon,tab\there,é😀,'\r\n"
        )
        #expect(
            try written([fields], CSVWriterOptions(delimiter: .semicolon, lineEnding: .lf))
                == "plain;with,comma;\"with \"\"quote\"\"\";\"line\nbreak\";\"cr\rhere\";; spaces ;\"semi;colon\";tab\there;é😀;'\n"
        )
        #expect(
            try written([fields], CSVWriterOptions(delimiter: .tab))
                == "plain\twith,comma\t\"with \"\"quote\"\"\"\t\"line\nbreak\"\t\"cr\rhere\"\t\t spaces \tsemi;colon\t\"tab\there\"\té😀\t'\r\n"
        )
        #expect(
            try written([["\""], ["\"\""], ["a|b"]], CSVWriterOptions(delimiter: .pipe))
                == "\"\"\"\"\r\n\"\"\"\"\"\"\r\n\"a|b\"\r\n"
        )
        // A leading U+FEFF is quoted so that it is not stripped as a BOM when read back.
        let bomField = "\u{FEFF}x"
        let out = try written([[bomField, "\u{FEFF}"], ["a\u{FEFF}"]])
        #expect(out == "\"\u{FEFF}x\",\"\u{FEFF}\"\r\na\u{FEFF}\r\n")
        #expect(
            try readAll(try CSVReader(bytes: Array(out.utf8))).map(\.fields) == [
                [bomField, "\u{FEFF}"], ["a\u{FEFF}"],
            ]
        )
    }

    @Test("edge records: one empty field is written as \"\", no fields as an empty line")
    func edgeRecords() throws {
        #expect(try written([[""]]) == "\"\"\r\n")
        #expect(try written([["", ""]]) == ",\r\n")
        #expect(try written([[]]) == "\r\n")
        let w = CSVWriter(options: CSVWriterOptions(lineEnding: .lf))
        try w.write(record: [""][...])
        try w.write(record: ["a", "b,c"].lazy.map { $0 })
        try w.write(record: Set(["x"]))
        #expect(String(decoding: w.memoryOutput, as: UTF8.self) == "\"\"\na,\"b,c\"\nx\n")
    }

    @Test("excel-safe mode neutralises formula-like cells (OWASP)")
    func excelSafe() throws {
        let o = CSVWriterOptions(excelSafe: true)
        #expect(
            try written(
                [
                    [
                        "=SUM(A1:A9)", "+1+A1", "-2+cmd|x", "@cmd", "\tx", "\rx", "a=b", "safe", "'q", "", "=1+\"a\"",
                        "=x,y",
                    ]
                ],
                o
            ) == "'=SUM(A1:A9),'+1+A1,'-2+cmd|x,'@cmd,'\tx,\"'\rx\",a=b,safe,'q,,\"'=1+\"\"a\"\"\",\"'=x,y\"\r\n"
        )
        // Phone numbers and plain numbers go back into a CRM as they are.
        #expect(
            try written([["+44 20 7946 0958", "-3", "-2.5", "+1-555-123-4567", "+", "-", "+x", "-(2)"]], o)
                == "+44 20 7946 0958,-3,-2.5,'+1-555-123-4567,'+,'-,'+x,'-(2)\r\n"
        )
        // Off by default.
        #expect(try written([["=1", "-2"]]) == "=1,-2\r\n")
        // With tab as delimiter, a leading tab also needs quotes.
        #expect(try written([["\tx", "y"]], CSVWriterOptions(delimiter: .tab, excelSafe: true)) == "\"'\tx\"\ty\r\n")
        // The generic overload applies the same rules.
        let w = CSVWriter(options: o)
        try w.write(record: ["=A1", "ok"][...])
        #expect(String(decoding: w.memoryOutput, as: UTF8.self) == "'=A1,ok\r\n")
    }

    @Test("fields larger than the buffer")
    func bigFields() throws {
        let big = String(repeating: "ab\"c,", count: 1000)
        let small = CSVWriterOptions(bufferSize: 64)
        let w = CSVWriter(options: small)
        try w.write(record: ["x", big, "y"])
        try w.write(record: [big][...])
        let out = w.memoryOutput
        let r = try CSVReader(bytes: out, options: CSVReaderOptions(delimiter: .comma))
        #expect(try readAll(r).map(\.fields) == [["x", big, "y"], [big]])
        #expect(try written([["x", big, "y"]], small) == (try written([["x", big, "y"]])))
    }

    @Test("field by field (bytes or strings) writes exactly what write(record:) writes")
    func fieldByField() throws {
        let big = String(repeating: "ab\"c,", count: 1000)
        let records: [[String]] = [
            [""], ["", ""], ["a"], ["=1", "x,y", "q\"q", "line\nbreak", "\u{FEFF}bom", "é😀", ""],
            ["x", big, "y"], [big], ["", big], ["@cmd"], ["-"],
        ]
        for options in [
            CSVWriterOptions(),
            CSVWriterOptions(delimiter: .semicolon, lineEnding: .lf, excelSafe: true, bufferSize: 64),
            CSVWriterOptions(delimiter: .tab, bufferSize: 64),
        ] {
            let expected = try written(records, options)
            let bytes = CSVWriter(options: options)
            let strings = CSVWriter(options: options)
            for (n, r) in records.enumerated() {
                for field in r {
                    try Array(field.utf8).withUnsafeBytes { try bytes.writeField(utf8: $0) }
                    // Alternate the two overloads within one writer too.
                    if n % 2 == 0 {
                        try strings.writeField(field)
                    } else {
                        try Array(field.utf8).withUnsafeBytes { try strings.writeField(utf8: $0) }
                    }
                }
                try bytes.endRecord()
                try strings.endRecord()
            }
            #expect(String(decoding: bytes.memoryOutput, as: UTF8.self) == expected)
            #expect(String(decoding: strings.memoryOutput, as: UTF8.self) == expected)
        }
        // Found by scripts/fuzz (fixtures/fuzz/crash-caeb4a1e-field-by-field-flush.csv): a first
        // field that flushed the buffer and refilled it to the same length was taken for an
        // empty one (an extra `""`). 22 bytes buffered, then a 22-byte field (worst case 47)
        // flushes a 64-byte buffer and leaves 22 bytes again.
        let flushing = CSVWriter(options: CSVWriterOptions(bufferSize: 64))
        try flushing.write(record: [String(repeating: "a", count: 20)])
        try flushing.writeField(String(repeating: "b", count: 22))
        try flushing.endRecord()
        #expect(
            String(decoding: flushing.memoryOutput, as: UTF8.self)
                == String(repeating: "a", count: 20) + "\r\n" + String(repeating: "b", count: 22) + "\r\n"
        )
        // A record with no fields is an empty line, like write(record: []).
        let w = CSVWriter(options: CSVWriterOptions(lineEnding: .lf))
        try w.endRecord()
        try w.writeField(utf8: UnsafeRawBufferPointer(start: nil, count: 0))
        try w.endRecord()
        #expect(String(decoding: w.memoryOutput, as: UTF8.self) == "\n\"\"\n")
    }

    @Test("writes to a file path and to a descriptor")
    func fileOutput() throws {
        let path = temporaryPath("out.csv")
        defer { unlink(path) }
        let w = try CSVWriter(path: path, options: CSVWriterOptions(lineEnding: .lf))
        try w.write(record: ["email", "name"])
        try w.write(record: ["a@x", "Zoë"])
        try w.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "email,name\na@x,Zoë\n")
        let late = try #require(throws: CSVError.self) {
            try w.write(record: ["late"])
            try w.flush()
        }
        #expect(late.code == .io(errno: EBADF))

        let fd = open(path, O_WRONLY | O_APPEND)
        #expect(fd >= 0)
        do {
            let w2 = CSVWriter(fileDescriptor: fd)
            try w2.write(record: ["b@x", "Bo"])
            try w2.flush()
        }
        #expect(fcntl(fd, F_GETFD) != -1)  // not owned: still open
        close(fd)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "email,name\na@x,Zoë\nb@x,Bo\r\n")
        do {
            // deinit flushes on a best-effort basis.
            let w3 = try CSVWriter(path: path)
            try w3.write(record: ["z"])
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "z\r\n")
        #expect(CSVWriter.standardOutput().memoryOutput == [])
    }

    @Test("EPIPE and ENOSPC surface as thrown errors with errno")
    func writeErrors() throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        let w = CSVWriter(fileDescriptor: fds[1], closeOnDeinit: true)
        try w.write(record: ["a", "b"])
        let broken = try #require(throws: CSVError.self) { try w.flush() }
        #expect(broken.code == .io(errno: EPIPE))
        #expect(broken.message == "write failed: broken pipe (errno \(EPIPE))")
        let again = try #require(throws: CSVError.self, "the error sticks") { try w.write(record: ["again"]) }
        #expect(again.code == .io(errno: EPIPE))

        let full = open("/dev/full", O_WRONLY)
        if full >= 0 {
            let w2 = CSVWriter(fileDescriptor: full, closeOnDeinit: true, options: CSVWriterOptions(bufferSize: 64))
            let caught = try #require(throws: CSVError.self) {
                for _ in 0..<100 { try w2.write(record: ["0123456789", "abcdefghij"]) }
            }
            #expect(caught.code == .io(errno: ENOSPC))
        }
    }
}

@Suite("Round trip")
struct RoundTripTests {
    static let alphabet: [String] = [
        "a", "b", "Z", "0", " ", ",", ";", "\t", "|", "\"", "\r", "\n", "\r\n", "é", "€", "😀", "'", "=", "ß",
    ]

    @Test("writer → reader reproduces random records exactly (seeded)", arguments: [1, 2, 3, 4, 5])
    func roundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<60 {
            let delimiter = CSVDelimiter.sniffCandidates[Int.random(in: 0..<4, using: &rng)]
            let lineEnding: CSVLineEnding = Bool.random(using: &rng) ? .crlf : .lf
            var records: [[String]] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                var rec: [String] = []
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    var f = ""
                    for _ in 0..<Int.random(in: 0...12, using: &rng) {
                        f += Self.alphabet[Int.random(in: 0..<Self.alphabet.count, using: &rng)]
                    }
                    rec.append(f)
                }
                records.append(rec)
            }
            let w = CSVWriter(
                options: CSVWriterOptions(
                    delimiter: delimiter,
                    lineEnding: lineEnding,
                    bufferSize: Int.random(in: 64...300, using: &rng)
                )
            )
            for r in records { try w.write(record: r) }
            let bytes = w.memoryOutput

            // Expected start lines: each record adds its quoted line breaks plus one.
            var expectedLines: [Int] = []
            var line = 1
            for r in records {
                expectedLines.append(line)
                line +=
                    1
                    + r.reduce(0) {
                        $0 + $1.unicodeScalars.reduce(into: 0) { n, s in if s == "\r" || s == "\n" { n += 1 } }
                            - $1.components(separatedBy: "\r\n").count + 1
                    }
            }
            let chunk = Int.random(in: 1...16, using: &rng)
            let reader = try CSVReader(bytes: bytes, options: CSVReaderOptions(delimiter: delimiter, chunkSize: chunk))
            let back = try readAll(reader)
            #expect(back.map(\.fields) == records)
            #expect(back.map(\.line) == expectedLines)
        }
    }
}
