// libFuzzer entry point for the CSV module. Built by `scripts/fuzz` together with
// Sources/CSV/*.swift and the header mapper (Sources/BulkReg/Import/FieldMap.swift,
// Support/BulkRegError.swift) as a single module (so no `import CSV`):
//
//   swiftc -sanitize=fuzzer,address -parse-as-library -O Sources/CSV/*.swift \
//       Sources/BulkReg/Import/FieldMap.swift Sources/BulkReg/Support/BulkRegError.swift Fuzz/CSVFuzz.swift
//
// Every input is parsed with an auto-detected delimiter and small caps; its last byte then picks
// one extra check (chunk sizes, explicit delimiter, round trips). Any violation traps (= a
// libFuzzer crash). Checked properties:
// 1. the reader never crashes, with auto and explicit delimiters and small caps;
// 2. the result (records, lines, errors) does not depend on the chunk size;
// 3. structural invariants: lines ≥ 1 and increasing, caps respected, no NUL in values;
// 4. the UTF-8 validator agrees with the standard library;
// 5. writer → reader round trips reproduce the records exactly, whichever way a record is
//    written (array, collection, field by field), and excel-safe only adds `'`;
// 6. read as Windows-1252 or Mac Roman, any input decodes (no invalid-text error), chunk-size
//    independently;
// 7. the header mapper (BulkReg's FieldMap, compiled in) on the first record, with a `--map`
//    the input picks: it throws or maps every field to a column that exists, an email among
//    them; header normalization is idempotent.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private enum FuzzEvent: Equatable {
    case record([String], line: Int)
    case error(CSVError.Code, line: Int?)
}

@inline(never)
private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("CSV fuzz invariant violated: \(message())") }
}

private func fuzzTranscript(_ bytes: [UInt8], _ options: CSVReaderOptions) -> [FuzzEvent] {
    let reader: CSVReader
    do {
        reader = try CSVReader(bytes: bytes, options: options)
    } catch {
        fatalError("init(bytes:) failed: \(error)")
    }
    var out: [FuzzEvent] = []
    var lastLine = 0
    while out.count < 100_000 {
        do {
            guard let r = try reader.next() else { break }
            check(r.line >= 1 && r.line > lastLine, "line numbers must increase (\(lastLine) -> \(r.line))")
            lastLine = r.line
            check(!r.fields.isEmpty && r.fields.count <= options.maxFields, "field count \(r.fields.count)")
            var total = 0
            for f in r.fields {
                check(f.utf8.count <= options.maxFieldBytes, "field cap")
                check(!f.utf8.contains(0), "NUL in a value")
                total += f.utf8.count
            }
            check(total <= options.maxRecordBytes, "record cap")
            out.append(.record(r.fields, line: r.line))
        } catch {
            check(!error.message.isEmpty, "empty message")
            if let l = error.line { check(l >= 1, "error line \(l)") }
            out.append(.error(error.code, line: error.line))
            if !error.isRecoverable { break }
        }
    }
    return out
}

private func lineBreaks(_ s: String) -> Int {
    var n = 0
    var prevCR = false
    for b in s.utf8 {
        if b == 0x0D {
            n += 1
        } else if b == 0x0A && !prevCR {
            n += 1
        }
        prevCR = b == 0x0D
    }
    return n
}

private func roundTrip(_ records: [[String]], selector: UInt8) {
    guard !records.isEmpty else { return }
    let delimiter = CSVDelimiter.sniffCandidates[Int(selector & 3)]
    let lineEnding: CSVLineEnding = selector & 4 == 0 ? .crlf : .lf
    let writer = CSVWriter(options: CSVWriterOptions(delimiter: delimiter, lineEnding: lineEnding, bufferSize: 64))
    do {
        // Each of the three ways to write a record: array, generic collection, field by field.
        for (i, r) in records.enumerated() {
            switch (i + Int((selector >> 3) & 1)) % 3 {
            case 0: try writer.write(record: r)
            case 1: try writer.write(record: r[...])
            default:
                for (k, field) in r.enumerated() {
                    if k % 2 == 0 { try writer.writeField(field) } else {
                        try Array(field.utf8).withUnsafeBytes { try writer.writeField(utf8: $0) }
                    }
                }
                try writer.endRecord()
            }
        }
    } catch {
        fatalError("in-memory write failed: \(error)")
    }
    let bytes = writer.memoryOutput
    var expectedLine = 1
    var expectedLines: [Int] = []
    for r in records {
        expectedLines.append(expectedLine)
        expectedLine += 1 + r.reduce(0) { $0 + lineBreaks($1) }
    }
    // One read-back; chunk-size independence is checked on raw inputs by the other modes.
    let chunk = [1, 2, 3, 7, 8, 9, 64, 4096][Int(selector >> 5)]
    let options = CSVReaderOptions(delimiter: delimiter, chunkSize: chunk, maxFieldBytes: 1 << 20,
                                   maxRecordBytes: 1 << 22, maxFields: 1 << 16)
    let back = fuzzTranscript(bytes, options)
    let expected = zip(records, expectedLines).map { FuzzEvent.record($0, line: $1) }
    check(back == expected, "round trip mismatch (delimiter \(delimiter), chunk \(chunk))")

    // Excel-safe output reads back as the same values, some with a leading apostrophe.
    guard selector & 16 != 0 else { return }
    let safe = CSVWriter(options: CSVWriterOptions(delimiter: delimiter, lineEnding: lineEnding, excelSafe: true, bufferSize: 4096))
    do {
        for r in records { try safe.write(record: r) }
    } catch {
        fatalError("in-memory write failed: \(error)")
    }
    let safeBack = fuzzTranscript(safe.memoryOutput, CSVReaderOptions(delimiter: delimiter, maxFieldBytes: 1 << 20,
                                                                         maxRecordBytes: 1 << 22, maxFields: 1 << 16))
    check(safeBack.count == records.count, "excel-safe record count")
    for (event, r) in zip(safeBack, records) {
        guard case .record(let fields, _) = event else { fatalError("excel-safe read error") }
        check(fields.count == r.count, "excel-safe field count")
        for (got, original) in zip(fields, r) {
            var formula = original.utf8.first.map { [0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D].contains($0) } ?? false
            if formula, let sign = original.first, sign == "+" || sign == "-" {
                // A phone number or a plain number stays as it is.
                let rest = original.dropFirst()
                let number = rest.unicodeScalars.contains { ("0"..."9").contains($0) }
                    && rest.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || " .".unicodeScalars.contains($0) }
                formula = !number
            }
            check(got == (formula ? "'" + original : original), "excel-safe value")
        }
    }
}

private func checkHeaderMapping(_ header: [String], selector: UInt8) {
    for name in header.prefix(8) {
        let once = FieldMap.normalize(name)
        check(FieldMap.normalize(once) == once, "normalize is not idempotent")
    }
    var overrides: [String: String] = [:]
    if !header.isEmpty && selector & 1 == 1 {
        let column = Int(selector >> 1) % header.count
        let field = ["email", "first_name", "phone", "country", "api_key", "bad name"][Int(selector >> 4) % 6]
        overrides[field] = selector & 2 == 0 ? header[column] : "#\(column + 1)"
    }
    guard let map = try? FieldMap(header: header, overrides: overrides, file: "fuzz.csv") else { return }
    check(map.columns[.email] != nil, "a map without an email column")
    for (_, column) in map.columns { check(column >= 0 && column < header.count, "mapped column out of range") }
    for extra in map.extras { check(extra.column >= 0 && extra.column < header.count, "extra column out of range") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func csvFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes: [UInt8] = (data != nil && size > 0) ? Array(UnsafeBufferPointer(start: data!, count: size)) : []
    // The last byte picks chunk sizes, delimiters and which extra checks run, so that each
    // execution stays cheap while the fuzzer can steer towards every check.
    let selector = bytes.last ?? 0

    // 1-3: always: auto-detected delimiter, small caps, a small chunk size.
    var small = CSVReaderOptions(delimiter: nil, chunkSize: [1, 2, 3, 5, 7, 8, 13, 64][Int(selector & 7)],
                                 maxFieldBytes: 64, maxRecordBytes: 256, maxFields: 16)
    let autoSmall = fuzzTranscript(bytes, small)

    // 7: the header mapper on the first record read.
    if case .record(let header, _)? = autoSmall.first { checkHeaderMapping(header, selector: bytes.first ?? 0) }

    switch (selector >> 3) & 3 {
    case 0:
        // 2: the chunk size must not matter.
        small.chunkSize = 4096
        check(fuzzTranscript(bytes, small) == autoSmall, "chunk-size dependence (auto delimiter, small caps)")
        // 4: UTF-8 validation agrees with the standard library (NUL is rejected on top).
        let ours = bytes.withUnsafeBufferPointer { b in
            b.baseAddress.map { firstInvalidUTF8($0, b.count) == nil } ?? true
        }
        let stdlib = String(validating: bytes, as: UTF8.self) != nil && !bytes.contains(0)
        check(ours == stdlib, "UTF-8 validator disagrees with the standard library")
    case 1:
        // Explicit delimiter (chosen by the input) with default caps, two chunk sizes.
        let explicit = CSVDelimiter.sniffCandidates[Int(selector >> 6)]
        var wide = CSVReaderOptions(delimiter: explicit, chunkSize: 2 + Int(selector % 5))
        let explicitWide = fuzzTranscript(bytes, wide)
        wide.chunkSize = 4096
        check(fuzzTranscript(bytes, wide) == explicitWide, "chunk-size dependence (explicit delimiter)")
        // 6: a given single-byte encoding: chunk-size independent, and never invalid text
        // (every byte decodes).
        var single = CSVReaderOptions(
            delimiter: explicit, encoding: selector & 0x20 == 0 ? .windows1252 : .macRoman, chunkSize: 1 + Int(selector % 7))
        let singleSmall = fuzzTranscript(bytes, single)
        single.chunkSize = 4096
        check(fuzzTranscript(bytes, single) == singleSmall, "chunk-size dependence (single-byte encoding)")
        for case .error(let code, _) in singleSmall {
            check(code != .invalidUTF8 && code != .invalidUTF16, "invalid text from a single-byte encoding")
        }
    case 2:
        // 5: round trip of the records just read.
        var parsed: [[String]] = []
        for case .record(let fields, _) in autoSmall { parsed.append(fields) }
        roundTrip(parsed, selector: bytes.first ?? 0)  // another byte: independent of the mode bits
    default:
        // 5: round trip of records cut straight from the input (0x01 ends a field, 0x02 a record).
        var made: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        for b in bytes.dropLast() {
            switch b {
            case 0x00: continue  // NUL cannot round-trip: the reader rejects it by design
            case 0x01:
                record.append(String(decoding: field, as: UTF8.self))
                field = []
            case 0x02:
                record.append(String(decoding: field, as: UTF8.self))
                made.append(record)
                record = []
                field = []
            default:
                field.append(b)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(String(decoding: field, as: UTF8.self))
            made.append(record)
        }
        roundTrip(made, selector: bytes.first ?? 0)
    }
    return 0
}
