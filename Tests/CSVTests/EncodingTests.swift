import CSV
import Foundation
import Testing

func utf16(_ s: String, bigEndian: Bool, bom: Bool) -> [UInt8] {
    var out: [UInt8] = bom ? (bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]) : []
    for u in s.utf16 {
        let hi = UInt8(u >> 8)
        let lo = UInt8(u & 0xFF)
        out += bigEndian ? [hi, lo] : [lo, hi]
    }
    return out
}

/// Inputs that fail on their first record, which holds a name (for `noPersonalData`).
private let failingInputsWithPersonalData: [([UInt8], CSVReaderOptions)] = {
    let secret = "Secret McSecretface"
    return [
        (Array("\"\(secret)".utf8), CSVReaderOptions()),
        (Array(secret.utf8) + [0xFF], CSVReaderOptions()),
        (Array(secret.utf8) + [0x00], CSVReaderOptions()),
        (Array(secret.utf8), CSVReaderOptions(maxFieldBytes: 4)),
        (Array("\(secret),\(secret)".utf8), CSVReaderOptions(maxRecordBytes: 25)),
        (Array("\(secret),\(secret)".utf8), CSVReaderOptions(maxFields: 1)),
    ]
}()

@Suite("Reader: encodings and validation")
struct EncodingTests {
    @Test(
        "a fixture's encoding, byte order mark and delimiter are detected (UTF-16 without a BOM from its zero bytes), and its fields read",
        arguments: [
            (
                "csv/semicolon-excel-fr.csv", CSVEncoding.utf8, true, CSVDelimiter.semicolon,
                [["Nom", "Prénom", "Montant"], ["Dupont", "Jean", "1,5"], ["Martin; fils", "Luc", "2,75"]]
            ),
            (
                "csv/utf16be-bom.csv", .utf16BigEndian, true, .comma,
                [["name", "email"], ["Łukasz", "l@example.com"], ["Smith, 😀", "s@example.com"]]
            ),
            (
                "csv/utf16le-nobom.tsv", .utf16LittleEndian, false, .tab,
                [["name", "email"], ["Ann", "a@example.com"], ["Jürgen", "j@example.com"]]
            ),
        ]
    )
    func detection(
        fixture: String,
        encoding: CSVEncoding,
        bom: Bool,
        delimiter: CSVDelimiter,
        fields: [[String]]
    ) throws {
        let r = try CSVReader(path: Fixtures.path(fixture))
        #expect(detected(r) == (encoding, bom, delimiter))
        #expect(try readAll(r).map(\.fields) == fields)
        #expect(try checkedTranscript(Fixtures.bytes(fixture)).count == fields.count)
    }

    @Test("a UTF-8 BOM is stripped and reported; only a leading one")
    func utf8BOM() throws {
        #expect(
            try checkedTranscript("\u{FEFF}email\na@x") == [.record(["email"], line: 1), .record(["a@x"], line: 2)]
        )
        // Only a leading BOM is special; a later U+FEFF is data.
        #expect(try checkedTranscript("a\n\u{FEFF}b") == [.record(["a"], line: 1), .record(["\u{FEFF}b"], line: 2)])
        let plain = try CSVReader(bytes: Array("a,b".utf8))
        #expect(plain.encoding == .utf8)
        #expect(!plain.hadByteOrderMark)
    }

    @Test("Windows-1252 and Mac Roman, when given: every high byte decoded, across chunk boundaries")
    func singleByte() throws {
        // Excel on Windows: "Zoë", smart quotes, the euro sign, an en dash; one undefined byte (0x81).
        let cp1252: [UInt8] =
            Array("name;note\r\nZo".utf8) + [0xEB] + Array(";".utf8) + [0x93, 0x80, 0x35, 0x94, 0x96, 0x81]
            + Array("\r\n\"Jos".utf8) + [0xE9, 0x3B] + Array(" Mar".utf8) + [0xED, 0x61, 0x22, 0x3B, 0x9F]
            + Array("\r\n".utf8)
        let windows = CSVReaderOptions(encoding: .windows1252)
        #expect(
            try checkedTranscript(cp1252, windows) == [
                .record(["name", "note"], line: 1),
                .record(["Zoë", "“€5”–\u{81}"], line: 2),
                .record(["José; María", "Ÿ"], line: 3),
            ]
        )
        #expect(try CSVReader(bytes: cp1252, options: windows).encoding == .windows1252)
        // Excel "CSV (Macintosh)": CR line ends; é = 0x8E, ü = 0x9F, € = 0xDB, ß = 0xA7.
        let roman: [UInt8] =
            Array("first,last\rZo".utf8) + [0x8A] + Array(",M".utf8) + [0x9F] + Array("ller\r".utf8)
            + [0x8E, 0xDB, 0xA7] + Array(",x\r".utf8)
        #expect(
            try checkedTranscript(roman, CSVReaderOptions(encoding: .macRoman)) == [
                .record(["first", "last"], line: 1),
                .record(["Zoä", "Müller"], line: 2),
                .record(["é€ß", "x"], line: 3),
            ]
        )
        // Every byte decodes to valid UTF-8 (nothing to reject), and the whole table is the
        // codecs' (spot checks of both halves' ends).
        let all = Array("v\n".utf8) + (0x80...0xFF).flatMap { [UInt8($0), 0x0A] }
        for (encoding, first, last) in [(CSVEncoding.windows1252, "€", "ÿ"), (.macRoman, "Ä", "ˇ")] {
            let values = try readAll(try CSVReader(bytes: all, options: CSVReaderOptions(encoding: encoding)))
                .dropFirst().map { $0.fields[0] }
            #expect(values.count == 128)
            #expect(values.first == first && values.last == last, "\(encoding)")
        }
        // Names, as the command line takes them.
        #expect(CSVEncoding(name: "CP1252") == .windows1252 && CSVEncoding(name: "latin1") == .windows1252)
        #expect(CSVEncoding(name: "macintosh") == .macRoman && CSVEncoding(name: "UTF_16LE") == .utf16LittleEndian)
        #expect(CSVEncoding(name: "ebcdic") == nil)
        // A given UTF-8 or UTF-16 still drops its own BOM; a single-byte encoding has none.
        #expect(try transcript(Array("\u{FEFF}a".utf8), CSVReaderOptions(encoding: .utf8)) == [.record(["a"], line: 1)])
        #expect(
            try transcript(utf16("a", bigEndian: false, bom: true), CSVReaderOptions(encoding: .utf16LittleEndian))
                == [.record(["a"], line: 1)]
        )
    }

    @Test("UTF-16 LE with BOM (Excel Unicode Text, tab-delimited), surrogate pairs across chunks")
    func utf16LEBOM() throws {
        let expected: [Event] = [
            .record(["First Name", "Last Name", "Email"], line: 1),
            .record(["José", "García", "jose@example.com"], line: 2),
            .record(["Zoë 😀", "Ng", "z@example.com"], line: 3),
        ]
        let bytes = try Fixtures.bytes("csv/utf16le-bom.tsv")
        #expect(try checkedTranscript(bytes) == expected)
        let r = try CSVReader(path: Fixtures.path("csv/utf16le-bom.tsv"), options: CSVReaderOptions(chunkSize: 3))
        #expect(detected(r) == (.utf16LittleEndian, true, .tab))
        #expect(transcript(r) == expected)
    }

    @Test("UTF-16 without BOM is detected from the NUL pattern, either byte order")
    func utf16NoBOM() throws {
        let text = "email;name\r\nz@x.io;Zoë 😀\r\n"
        let be = utf16(text, bigEndian: true, bom: false)
        let rb = try CSVReader(bytes: be)
        #expect(rb.encoding == .utf16BigEndian)
        #expect(rb.delimiter == .semicolon)
        #expect(
            try checkedTranscript(be) == [.record(["email", "name"], line: 1), .record(["z@x.io", "Zoë 😀"], line: 2)]
        )
        // A single ASCII character is enough.
        let one = try CSVReader(bytes: [0x61, 0x00])
        #expect(one.encoding == .utf16LittleEndian)
        #expect(try one.next()?.fields == ["a"])
    }

    @Test("invalid UTF-16: unpaired surrogates and an odd trailing byte, with the line")
    func invalidUTF16() throws {
        var bytes = utf16("a\nb", bigEndian: false, bom: true)
        bytes += [0x00, 0xD8]  // lone high surrogate at EOF
        #expect(try checkedTranscript(bytes) == [.record(["a"], line: 1), .error(.invalidUTF16, line: 2)])

        var lowFirst = utf16("x\n", bigEndian: false, bom: true)
        lowFirst += [0x00, 0xDC] + utf16("y\nz\n", bigEndian: false, bom: false)
        #expect(
            try checkedTranscript(lowFirst) == [
                .record(["x"], line: 1), .error(.invalidUTF16, line: 2), .record(["z"], line: 3),
            ]
        )

        var highThenA = utf16("h\n", bigEndian: true, bom: true)
        highThenA += [0xD8, 0x3D, 0x00, 0x41, 0x00, 0x0A]
        #expect(try checkedTranscript(highThenA) == [.record(["h"], line: 1), .error(.invalidUTF16, line: 2)])

        var odd = utf16("a\nb", bigEndian: false, bom: true)
        odd.append(0x63)
        #expect(try checkedTranscript(odd) == [.record(["a"], line: 1), .error(.invalidUTF16, line: 2)])

        let r = try CSVReader(bytes: bytes)
        _ = try r.next()
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(error.message == "invalid UTF-16LE (unpaired surrogate or truncated data) at line 2 (field 1)")
        // U+0000 in UTF-16 is rejected like a NUL byte.
        #expect(try checkedTranscript(utf16("a\u{0}b\n", bigEndian: false, bom: true)) == [.error(.nulByte, line: 1)])
    }

    @Test("invalid UTF-8 is rejected (not replaced) with the line, and reading can go on")
    func invalidUTF8() throws {
        // The fixture's line 3 (the table of ReaderTests.badThirdLine) and, after it, line 4.
        let t = try checkedTranscript(Fixtures.bytes("csv/invalid-utf8.csv"))
        #expect(t.dropFirst(3) == [.record(["c@example.com", "Cy"], line: 4)])
        let bad: [[UInt8]] = [
            [0xFF], [0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xC3], [0xF0, 0x9F, 0x98],
        ]
        for seq in bad {
            let bytes = Array("h\nx,".utf8) + seq + Array(",y\nlast\n".utf8)
            #expect(
                try checkedTranscript(bytes) == [
                    .record(["h"], line: 1), .error(.invalidUTF8, line: 2), .record(["last"], line: 3),
                ],
                "\(seq)"
            )
            // Sequence at the very end of input.
            #expect(
                try checkedTranscript(Array("h\n".utf8) + seq) == [
                    .record(["h"], line: 1), .error(.invalidUTF8, line: 2),
                ]
            )
        }
        // A truncated sequence followed by a delimiter must not be glued to the next field.
        #expect(try checkedTranscript([0x61, 0xC3, 0x2C, 0xA9]) == [.error(.invalidUTF8, line: 1)])
        let good = ["é", "€", "😀", "\u{10FFFF}", "\u{7FF}", "\u{800}", "\u{FFFD}"]
        for g in good {
            #expect(
                try checkedTranscript("h\n\(g),\"\(g)\"\n") == [.record(["h"], line: 1), .record([g, g], line: 2)]
            )
        }
    }

    @Test("invalid UTF-8 line number inside multi-line quoted fields")
    func invalidUTF8MultiLine() throws {
        // Quote opens on line 2; the bad byte is on line 4.
        let bytes = Array("a\n\"x\ny\nz".utf8) + [0xFF] + Array("\"\nnext\n".utf8)
        #expect(
            try checkedTranscript(bytes) == [
                .record(["a"], line: 1), .error(.invalidUTF8, line: 4), .record(["next"], line: 5),
            ]
        )
        // An earlier field of the same record spans lines.
        let b2 = Array("\"p\r\nq\",r".utf8) + [0xFE] + Array("\n".utf8)
        #expect(try checkedTranscript(b2) == [.error(.invalidUTF8, line: 2)])
        let r = try CSVReader(bytes: b2)
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(error.message == "invalid UTF-8 at line 2 (field 2); re-export the file as UTF-8")
    }

    @Test("NUL byte in a UTF-8 file: error with line and hint")
    func nulByte() throws {
        // The fixture's transcript: ReaderTests.badThirdLine.
        let r = try CSVReader(path: Fixtures.path("csv/nul-byte.csv"))
        _ = try r.next()
        _ = try r.next()
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(error.message == "NUL byte at line 3 (field 2): is this a binary or UTF-16 file?")
        #expect(error.isRecoverable)
        #expect(try r.next() == nil)
        #expect(
            try checkedTranscript([0x61, 0x0A, 0x00, 0x0A, 0x62]) == [
                .record(["a"], line: 1), .error(.nulByte, line: 2), .record(["b"], line: 3),
            ]
        )
    }

    @Test("error messages never contain field contents", arguments: failingInputsWithPersonalData)
    func noPersonalData(bytes: [UInt8], options: CSVReaderOptions) throws {
        let r = try CSVReader(bytes: bytes, options: options)
        let error = try #require(throws: CSVError.self) { try r.next() }
        #expect(!error.message.contains("Secret"))
        #expect(!error.description.contains("McSecretface"))
        #expect(error.message.contains("line 1"))
    }
}
