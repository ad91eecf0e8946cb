import CSV
import Foundation
import Testing

/// The eleven csv-spectrum acid tests: header row + records must equal the JSON objects.
@Suite("csv-spectrum conformance")
struct ConformanceTests {
    static let cases = [
        "comma_in_quotes", "empty", "empty_crlf", "escaped_quotes", "json", "newlines",
        "newlines_crlf", "quotes_and_newlines", "simple", "simple_crlf", "utf8",
    ]

    @Test("all eleven cases are present")
    func allCasesPresent() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("csv-spectrum/csvs"))
            .filter { $0.hasSuffix(".csv") }
            .map { String($0.dropLast(4)) }
            .sorted()
        #expect(names == Self.cases.sorted())
    }

    @Test("case reproduces its JSON exactly", arguments: cases)
    func spectrum(name: String) throws {
        let expected = try JSONDecoder().decode(
            [[String: String]].self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("csv-spectrum/json/\(name).json")))
        )
        let bytes = try Fixtures.bytes("csv-spectrum/csvs/\(name).csv")
        for chunkSize in shakeChunkSizes {
            for delimiter in [nil, CSVDelimiter.comma] {
                let reader = try CSVReader(
                    bytes: bytes,
                    options: CSVReaderOptions(delimiter: delimiter, chunkSize: chunkSize)
                )
                #expect(reader.delimiter == .comma)
                #expect(reader.encoding == .utf8)
                let records = try readAll(reader)
                let header = try #require(records.first).fields
                let objects = records.dropFirst().map { r -> [String: String] in
                    #expect(r.fields.count == header.count)
                    return Dictionary(uniqueKeysWithValues: zip(header, r.fields))
                }
                #expect(objects == expected, "chunkSize \(chunkSize)")
            }
        }
        // Also through the file-descriptor path.
        let fromFile = try readAll(try CSVReader(path: Fixtures.path("csv-spectrum/csvs/\(name).csv")))
        #expect(fromFile.count == expected.count + 1)
    }

    @Test("line numbers of multi-line spectrum records")
    func spectrumLines() throws {
        let lines = try readAll(try CSVReader(path: Fixtures.path("csv-spectrum/csvs/quotes_and_newlines.csv"))).map(
            \.line
        )
        #expect(lines == [1, 2, 5])
        let crlf = try readAll(try CSVReader(path: Fixtures.path("csv-spectrum/csvs/newlines_crlf.csv"))).map(\.line)
        #expect(crlf == [1, 2, 3, 5])
    }
}
