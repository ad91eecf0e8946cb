import BulkReg
import Foundation
import SQLite
import TestSupport
import Testing

/// Issue 5's hostile inputs, each through the whole import (reader, header mapping, validation,
/// storage) with its exact outcome: every row accounted for, or one clear file-level error and
/// the database unchanged. The CSV reader's own tests (Tests/CSVTests) cover the same inputs
/// byte by byte; scripts/hostile-input proves the 1 GB one-line file in bounded memory.
@Suite("Hostile input, through the import")
struct HostileImportTests {
    /// (line, state, error) of every job, in order.
    func jobs(_ dir: TempDir) throws -> [(Int, String, String)] {
        let c = try Connection(.path(dir.db))
        let q = try c.prepare("SELECT line, state, coalesce(error, '') FROM jobs ORDER BY id")
        var out: [(Int, String, String)] = []
        while try q.step() { out.append((q.int(0), q.text(1) ?? "", q.text(2) ?? "")) }
        return out
    }

    /// A database holding one earlier import, so that "unchanged" has something to keep.
    func seeded() throws -> TempDir {
        let dir = TempDir()
        _ = try importFile(dir, dir.write("seed.csv", "email,first_name\nseed@example.com,Seed\n"))
        return dir
    }

    @Test("mixed line endings (CRLF, LF, CR, none at the end): every row, on its own line")
    func mixedLineEndings() throws {
        let (dir, s) = try importCSV(
            "mixed.csv",
            "email,first_name\r\na@example.com,Ann\nb@example.com,Bob\rc@example.com,Cy\r\nd@example.com,Dee"
        )
        #expect(s.rowsRead == 4 && s.queued == 4)
        #expect(try jobs(dir).map(\.0) == [2, 3, 4, 5])
        #expect(try exportRows(dir).dropFirst().map { $0[1] } == ["Ann", "Bob", "Cy", "Dee"])
    }

    @Test("a 10 MB quoted field: a file-level error naming the field and its line; nothing stored")
    func hugeField() throws {
        let dir = try seeded()
        let big =
            "email,first_name,notes\na@example.com,Ann,ok\nb@example.com,Bob,\""
            + String(repeating: "x", count: 10 << 20)
            + "\"\nc@example.com,Cy,ok\n"
        expectImportError(
            dir,
            file: dir.write("big.csv", big),
            contains: "field 3 starting at line 3 exceeds 1048576 bytes"
        )
    }

    @Test("100,000 columns, in the header or in a row: a file-level error with the line")
    func hundredThousandColumns() throws {
        let dir = try seeded()
        let wideHeader = (0..<100_000).map { "c\($0)" }.joined(separator: ",") + "\n"
        expectImportError(
            dir,
            file: dir.write("wide1.csv", wideHeader),
            contains: "record at line 1 has more than 16384 fields"
        )
        let wideRow =
            "email,first_name\na@example.com,Ann\nb@example.com,Bob" + String(repeating: ",x", count: 100_000) + "\n"
        expectImportError(
            dir,
            file: dir.write("wide2.csv", wideRow),
            contains: "record at line 3 has more than 16384 fields"
        )
    }

    @Test("a NUL byte is a file-level error with its line; other control bytes reject their row by name")
    func controlBytes() throws {
        let dir = try seeded()
        expectImportError(
            dir,
            file: dir.write(
                "nul.csv",
                bytes: Array("email,first_name\na@example.com,A".utf8) + [0] + Array("nn\n".utf8)
            ),
            contains: "line 2"
        )
        let rows: [UInt8] =
            Array("email,first_name,last_name,notes\n".utf8)
            + Array("a@example.com,An".utf8) + [0x01] + Array("n,X,ok\n".utf8)
            + Array("b@example.com,Bob,Y".utf8) + [0x1B] + Array("[31m,ok\n".utf8)
            + Array("c@example.com,Cy,Z".utf8) + [0xC2, 0x85] + Array("a,ok\n".utf8)
            + Array("d@example.com,Dee,W,bell".utf8) + [0x07] + Array("\n".utf8)
            + Array("e@example.com,\"Eve\tMarie\nLou\",V,ok\n".utf8)
        let s = try importFile(dir, dir.write("ctrl.csv", bytes: rows))
        #expect(s.rowsRead == 5 && s.queued == 2)
        #expect(
            s.rejected == ["first name contains a control character": 1, "last name contains a control character": 2]
        )
        let mine = try jobs(dir).dropFirst()
        #expect(mine.map(\.1) == ["rejected", "rejected", "rejected", "queued", "queued"])
        // Columns bulkreg does not send travel to the export untouched.
        #expect(try exportRows(dir)[5][3] == "bell\u{07}")
    }

    @Test("invalid UTF-8 is rejected with its line and field, not replaced; nothing stored")
    func invalidUTF8() throws {
        let dir = try seeded()
        let bytes = Array("email,first_name\na@example.com,Ann\nb@example.com,Jos".utf8) + [0xE9] + Array("\n".utf8)
        expectImportError(
            dir,
            file: dir.write("latin1.csv", bytes: bytes),
            contains: "invalid UTF-8 at line 3 (field 2); re-export the file as UTF-8"
        )
    }

    @Test("UTF-16 without a BOM (both byte orders) is detected and imported")
    func utf16WithoutBOM() throws {
        let text = "email\tfirst_name\r\nzoe@example.com\tZoë\r\njurgen@example.com\tJürgen 𠮷\r\n"
        for (name, littleEndian) in [("le.tsv", true), ("be.tsv", false)] {
            let dir = TempDir()
            let bytes = Array(text.utf16).flatMap { u -> [UInt8] in
                littleEndian ? [UInt8(u & 0xFF), UInt8(u >> 8)] : [UInt8(u >> 8), UInt8(u & 0xFF)]
            }
            let s = try importFile(dir, dir.write(name, bytes: bytes))
            #expect(s.encoding == (littleEndian ? "UTF-16LE" : "UTF-16BE") && s.delimiter == "tab")
            #expect(s.queued == 2)
            #expect(try exportRows(dir).dropFirst().map { $0[1] } == ["Zoë", "Jürgen 𠮷"])
        }
    }

    @Test("a header repeated mid-file (two exports joined) is a rejected row, with its reason")
    func repeatedHeader() throws {
        let (dir, s) = try importCSV(
            "joined.csv",
            "Email,First Name\na@example.com,Ann\nEmail,First Name\nb@example.com,Bob\n Email , First Name \n"
        )
        #expect(s.rowsRead == 4 && s.queued == 2 && s.rejected == ["repeated header row": 2])
        #expect(try jobs(dir).map { "\($0.0) \($0.1)" } == ["2 queued", "3 rejected", "4 queued", "5 rejected"])
    }

    @Test("duplicate header names: ambiguous for a lead field (error, with the --map that fixes it), kept otherwise")
    func duplicateHeaders() throws {
        let dir = try seeded()
        let twoEmails = dir.write("two.csv", "email,first_name,email\na@example.com,Ann,b@example.com\n")
        expectImportError(
            dir,
            file: twoEmails,
            contains: "columns 1 (\"email\") and 3 (\"email\") both look like the email column. "
                + "Tell bulkreg which one to use with --map email=#1 or --map email=#3."
        )
        // Different spellings of the email are as ambiguous; of another field, the first wins.
        expectImportError(
            dir,
            file: dir.write("spell.csv", "Email,E-mail Address,First Name\na@example.com,b@example.com,Ann\n"),
            contains: "columns 1 (\"Email\") and 2 (\"E-mail Address\") both look like the email column"
        )
        expectImportError(
            dir,
            file: dir.write("names.csv", "email,First Name,first_name\na@example.com,Ann,Anna\n"),
            contains: "both look like the first name column"
        )

        let picked = try importFile(dir, twoEmails, map: ["email": "#3"])
        #expect(picked.queued == 1)
        let notes = try importFile(
            dir,
            dir.write("notes.csv", "email,first_name,Phone,Mobile Phone,notes,notes\nc@example.com,Cy,111,222,x,y\n")
        )
        #expect(notes.queued == 1)
        let rows = try exportRows(dir)
        let header = rows[0]
        #expect(header.filter { $0 == "notes" }.count == 2)
        let last = try #require(rows.last)
        #expect(header.indices.filter { header[$0] == "notes" }.map { last[$0] } == ["x", "y"])
        // --map email=#3 made b@example.com the lead.
        #expect(try importFile(dir, dir.write("b.csv", "email,first_name\nb@example.com,B\n")).updated == 1)
    }

    @Test("an unterminated quote at the end of the file names the line where it opened; nothing stored")
    func unterminatedQuoteAtEnd() throws {
        let dir = try seeded()
        expectImportError(
            dir,
            file: dir.write("q.csv", "email,first_name\na@example.com,Ann\nb@example.com,Bob\nc@example.com,\"Cy"),
            contains: "line 4"
        )
    }

    @Test("only a header: an import of zero rows; only blank lines: no header, nothing created")
    func headerOnlyAndBlank() throws {
        let dir = TempDir()
        let s = try importFile(dir, dir.write("h.csv", "email,first_name\r\n"))
        #expect(s.rowsRead == 0 && s.queued == 0 && s.rejectedTotal == 0 && s.duplicates == 0)
        #expect(try jobs(dir).isEmpty)
        // Spreadsheet debris around the header: blank-looking lines before it are skipped,
        // empty rows after it are accounted for as such.
        let debris = TempDir()
        let d = try importFile(
            debris,
            debris.write("d.csv", ",,\n  \nemail,first_name,x\n,,\na@example.com,Ann,\n , ,\n")
        )
        #expect(d.rowsRead == 3 && d.queued == 1 && d.blank == 2 && d.rejectedTotal == 0)
        #expect(try jobs(debris).map(\.0) == [5])
        let fresh = TempDir()
        expectImportError(fresh, file: fresh.write("b.csv", "\n\r\n\r\n   \n,,,\n"), contains: "no header row")
        #expect(!FileManager.default.fileExists(atPath: fresh.db))
    }

    @Test("one line, no newline, far beyond the caps: an error at line 1, read only up to the cap")
    func oneEndlessLine() throws {
        let dir = try seeded()
        let path = dir.file("endless.csv")
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let block = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<48 { handle.write(block) }
        try handle.close()
        expectImportError(dir, file: path, contains: "field 1 starting at line 1 exceeds 1048576 bytes")
        let comma = dir.file("commas.csv")
        #expect(
            FileManager.default.createFile(atPath: comma, contents: Data(repeating: UInt8(ascii: ","), count: 8 << 20))
        )
        expectImportError(dir, file: comma, contains: "record at line 1 has more than 16384 fields")
    }

    @Test("Excel 'CSV UTF-8' (BOM, CRLF, quotes) and 'CSV (Macintosh)' (CR line ends)")
    func excelFormats() throws {
        let utf8 = TempDir()
        let s = try importFile(
            utf8,
            utf8.write(
                "excel.csv",
                "\u{FEFF}Email,First Name,Last Name\r\nzoe@example.com,Zoë,\"Ng, Jr.\"\r\nal@example.com,\"Al \"\"Bo\"\"\",\"two\r\nlines\"\r\n"
            )
        )
        #expect(s.queued == 2 && s.encoding == "UTF-8")
        let rows = try exportRows(utf8)
        #expect(rows[0].prefix(3) == ["Email", "First Name", "Last Name"])
        #expect(rows[1].prefix(3) == ["zoe@example.com", "Zoë", "Ng, Jr."])
        #expect(rows[2].prefix(3) == ["al@example.com", "Al \"Bo\"", "two\r\nlines"])

        let mac = TempDir()
        let m = try importFile(
            mac,
            mac.write("mac.csv", "Email,First Name\ra@example.com,Ann\r\"b@example.com\",\"O'Neil\"\r")
        )
        #expect(m.queued == 2)
        #expect(try jobs(mac).map(\.0) == [2, 3])
        // Excel writes "CSV (Macintosh)" in Mac Roman: an accent is not UTF-8, so the file is
        // refused at that line (with the fix) rather than registering a mangled name...
        let roman = try seeded()
        let romanFile = roman.write(
            "roman.csv",
            bytes: Array("Email,First Name\ra@example.com,Ann\rb@example.com,Zo".utf8) + [0x91, 0x0D]
        )
        expectImportError(
            roman,
            file: romanFile,
            contains: "invalid UTF-8 at line 3 (field 2); re-export the file as UTF-8, or name its encoding: "
                + "--encoding windows-1252 (Excel \"CSV (Comma delimited)\" on Windows) or --encoding macroman"
        )
        // ... and imported as written once its encoding is named.
        let r = try importFile(roman, romanFile, encoding: .macRoman, now: 1)
        #expect(r.queued == 2 && r.encoding == "MacRoman")
        let last = try #require(try exportRows(roman).last)
        #expect(last.contains("b@example.com") && last.contains("Zoë"))
        // Windows Excel's "CSV (Comma delimited)" is Windows-1252.
        let win = TempDir()
        let w = try importFile(
            win,
            win.write(
                "win.csv",
                bytes: Array("Email;First Name;Last Name\r\nj@example.com;Jos".utf8) + [0xE9] + Array(";O".utf8) + [
                    0x92
                ]
                    + Array("Brien\r\n".utf8)
            ),
            encoding: .windows1252,
            now: 1
        )
        #expect(w.queued == 1 && w.delimiter == ";")
        #expect(try exportRows(win)[1].prefix(3) == ["j@example.com", "José", "O’Brien"])
    }

    @Test("formulas in cells are leads' text: stored and sent as written, neutralised by export --excel-safe")
    func formulas() throws {
        let (dir, s) = try importCSV(
            "f.csv",
            "email,first_name,notes\na@example.com,\"=HYPERLINK(\"\"http://x.example\"\",\"\"y\"\")\",@SUM(A1)\n=1+1,Bob,x\n"
        )
        #expect(s.queued == 1 && s.rejected == ["invalid email": 1])
        #expect(
            try exportRows(dir)[1].prefix(3) == ["a@example.com", "=HYPERLINK(\"http://x.example\",\"y\")", "@SUM(A1)"]
        )
        let safe = try exportRows(dir, excelSafe: true)
        #expect(safe[1].prefix(3) == ["a@example.com", "'=HYPERLINK(\"http://x.example\",\"y\")", "'@SUM(A1)"])
        #expect(safe[2][0] == "'=1+1")
    }
}
