import Foundation
import SQLite
import Testing

@Suite("SQLite layer")
struct SQLiteTests {
    @Test("bind, step and read every type")
    func roundTrip() throws {
        let c = try Connection(.memory)
        try c.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)")
        let insert = try c.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)")
        try insert.run([.int(42), .double(1.5), .text("Zoë \u{0}x"), .blob([0, 1, 255]), .null])
        let q = try c.prepare("SELECT i, d, s, b, n FROM t")
        #expect(try q.step())
        #expect(q.int(0) == 42)
        #expect(q.double(1) == 1.5)
        #expect(q.text(2) == "Zoë \u{0}x")
        #expect(q.withBlob(3) { Array($0) } == [0, 1, 255])
        #expect(q.text(4) == nil && q.isNull(4))
        #expect(try !q.step())
    }

    @Test("errors are matchable codes and never contain bound values")
    func errors() throws {
        let c = try Connection(.memory)
        try c.execute("CREATE TABLE p (email TEXT UNIQUE)")
        let insert = try c.prepare("INSERT INTO p VALUES (?)")
        try insert.run([.text("secret@example.com")])
        let error = try #require(throws: SQLiteError.self) { try insert.run([.text("secret@example.com")]) }
        #expect(error.code.primary == .constraint)
        #expect(!error.description.contains("secret@example.com"))
        #expect(throws: SQLiteError.self) { try c.execute("SELEC nonsense") }
    }

    @Test("a transaction that throws rolls back")
    func rollback() throws {
        let c = try Connection(.memory)
        try c.execute("CREATE TABLE t (x)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try c.transaction {
                try c.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try c.scalarInt("SELECT count(*) FROM t") == 0)
        #expect(c.isAutocommit)
    }

    @Test("a new database file is created with mode 0600")
    func fileMode() throws {
        let path = FileManager.default.temporaryDirectory.path + "/sqlite-mode-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try Connection(.path(path))
        try c.execute("CREATE TABLE t (x)")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
        #expect(mode == 0o600)
    }

    @Test("a file that is not a database reports notADatabase")
    func notADatabase() throws {
        let path = FileManager.default.temporaryDirectory.path + "/sqlite-garbage-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        let c = try Connection(.path(path))
        let error = try #require(throws: SQLiteError.self) { try c.scalarInt("SELECT count(*) FROM sqlite_master") }
        #expect(error.code.primary == .notADatabase)
    }

    @Test("cached statements are reused and reset")
    func cached() throws {
        let c = try Connection(.memory)
        let a = try c.cached("SELECT 1")
        #expect(try a.step())
        let b = try c.cached("SELECT 1")
        #expect(a === b)
        #expect(try b.step())
    }
}
