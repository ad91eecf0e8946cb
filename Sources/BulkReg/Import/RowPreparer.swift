import CSV
import Foundation

/// One CSV row, read and validated, ready to store.
struct PreparedRow {
    enum Kind {
        /// A valid lead for `target`; `email` identifies the person, `person` is its key.
        /// `seenBefore`: in bulk mode, the key was already taken in this file (a duplicate to
        /// confirm).
        case lead(Target, email: String, person: Int64, seenBefore: Bool)
        /// Not queued, with the reason.
        case rejected(String)
    }

    var line: Int
    var kind: Kind
    /// Where the row as stored (RowCodec, padded to the header's width when valid) lies in
    /// its batch's `bytes`: one buffer per batch, not one allocation per row.
    var range: Range<Int>
}

/// Rows prepared together, their stored bytes in one buffer.
struct PreparedBatch {
    var rows: [PreparedRow] = []
    var bytes: [UInt8] = []
    /// Bytes of the file read so far (to estimate the number of rows from the first batch).
    var bytesRead = 0
}

/// The import's first stage, on its own thread: reads the CSV, validates each row and encodes
/// it, and hands batches to the stage that writes SQLite (the calling thread). The two stages
/// overlap, on two cores, and at most `capacity` batches wait in between (constant memory).
final class RowPreparer: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [PreparedBatch] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private let capacity = 4
    private let batchSize = 512

    /// Rows read, and rejected by reason (filled by the producer, read after `next()` returns nil).
    private(set) var rowsRead = 0
    private(set) var rejected: [String: Int] = [:]
    /// Rows with a warning (part of the row left out of the request), by warning.
    private(set) var warnings: [String: Int] = [:]
    /// Rows with no value at all (a spreadsheet's formatted but empty `,,,`): skipped.
    private(set) var blank = 0

    /// Starts reading `reader` on a new thread.
    /// The reader moves to the new thread: the caller must not touch it until `next()` has
    /// returned nil or thrown, or `cancel()` has returned.
    /// - Parameter bulk: track person keys in memory (`seenBefore`), for bulk mode.
    init(reader: CSVReader, header: [String], validator: LeadValidator, file: String, bulk: Bool, expectedBytes: Int) {
        let handOff = HandOff(reader: reader)
        let thread = Thread { [self] in
            self.produce(
                reader: handOff.reader,
                header: header,
                validator: validator,
                file: file,
                bulk: bulk,
                expectedBytes: expectedBytes
            )
        }
        thread.name = "bulkreg.import.read"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The next batch, or nil at the end; rethrows the reader's error.
    func next() throws -> PreparedBatch? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty && !finished && failure == nil { condition.wait() }
        if let failure { throw failure }
        if batches.isEmpty { return nil }
        let batch = batches.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Stops the producer (the writer failed); waits until it has let go of the reader.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !finished && failure == nil { condition.wait() }
        condition.unlock()
    }

    private func put(_ batch: PreparedBatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        batches.append(batch)
        condition.broadcast()
        return true
    }

    private func end(_ error: (any Error)?) {
        condition.lock()
        if let error { failure = error } else { finished = true }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func produce(
        reader: CSVReader,
        header: [String],
        validator: LeadValidator,
        file: String,
        bulk: Bool,
        expectedBytes: Int
    ) {
        let width = header.count
        var seen = Set<Int64>()
        var sized = false
        var batch = PreparedBatch()
        batch.rows.reserveCapacity(batchSize)
        batch.bytes.reserveCapacity(batchSize * 128)
        do {
            while let record = try Importer.next(reader, file: file) {
                rowsRead += 1
                var fields = record.fields
                var rejection: String?
                if fields.count > width {
                    // Trailing empty cells (a spreadsheet's stray delimiters) are harmless.
                    while fields.count > width, fields.last?.isEmpty == true { fields.removeLast() }
                    if fields.count > width {
                        rejection = "row has \(fields.count) fields, the header has \(width)"
                        fields = record.fields
                    }
                }
                if rejection == nil && fields.count < width {
                    fields.append(contentsOf: repeatElement("", count: width - fields.count))
                }
                if rejection == nil && zip(fields, header).allSatisfy({ LeadText.trim($0) == $1 }) {
                    rejection = "repeated header row"
                }
                if fields.allSatisfy({ LeadText.trim($0).isEmpty }) {
                    // `,,,`: a spreadsheet's formatted but empty row: nothing to account for.
                    blank += 1
                    continue
                }
                let kind: PreparedRow.Kind
                if let reason = rejection {
                    kind = .rejected(reason)
                } else {
                    switch validator.validate(fields) {
                    case .failure(let r): kind = .rejected(r.reason)
                    case .success(let lead):
                        for warning in lead.warnings { warnings[warning, default: 0] += 1 }
                        let target = Target(
                            platform: lead.platform,
                            webinarID: lead.webinarID,
                            schedule: lead.schedule,
                            date: lead.date ?? ""
                        )
                        let person = PersonKey.of(target, email: lead.email)
                        if bulk && !sized && rowsRead >= 1000 {
                            // 8 bytes a lead (twice that for the load factor), sized once from
                            // the average row so far; a rehash briefly holds two copies.
                            sized = true
                            let perRow = max(8, reader.bytesRead / rowsRead)
                            seen.reserveCapacity(min(expectedBytes / perRow * 21 / 20 + 1024, 50_000_000))
                        }
                        let seenBefore = bulk && !seen.insert(person).inserted
                        kind = .lead(target, email: lead.email, person: person, seenBefore: seenBefore)
                    }
                }
                if case .rejected(let reason) = kind { rejected[reason, default: 0] += 1 }
                let start = batch.bytes.count
                RowCodec.append(fields, to: &batch.bytes)
                batch.rows.append(PreparedRow(line: record.line, kind: kind, range: start..<batch.bytes.count))
                if batch.rows.count == batchSize {
                    batch.bytesRead = reader.bytesRead
                    guard put(batch) else { return end(nil) }
                    batch = PreparedBatch()
                    batch.rows.reserveCapacity(batchSize)
                    batch.bytes.reserveCapacity(batchSize * 128)
                }
            }
            if !batch.rows.isEmpty { _ = put(batch) }
            end(nil)
        } catch {
            end(error)
        }
    }
}

/// Moves the reader to the producer thread, which alone uses it from then on.
private struct HandOff: @unchecked Sendable {
    let reader: CSVReader
}
