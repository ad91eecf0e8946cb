import CSV
import Foundation

// What the test targets share: a fresh directory per test, the repository's fixtures, and
// reading a CSV back. Only test targets depend on this target.

/// A fresh directory per test, removed when the value goes.
public final class TempDir: Sendable {
    public let path: String
    /// The database file a test uses in this directory.
    public let db: String

    /// `prefix` names the directory under the system's temporary one; `database` the file
    /// ``db`` points at.
    public init(prefix: String = "bulkreg-tests-", database: String = "test.sqlite") {
        path = FileManager.default.temporaryDirectory.path + "/" + prefix + UUID().uuidString
        db = path + "/" + database
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    public func write(_ name: String, bytes: [UInt8]) -> String {
        let p = file(name)
        try! Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
}

/// The repository's fixtures folder.
public let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures").path

/// Every record of a CSV file (read with the CSV module).
public func readCSV(_ path: String) throws -> [[String]] {
    let reader = try CSVReader(path: path)
    var rows: [[String]] = []
    while let record = try reader.next() { rows.append(record.fields) }
    return rows
}
