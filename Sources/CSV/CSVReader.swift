#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming, constant-memory CSV reader (RFC 4180 plus the usual real-world variants).
///
/// ```swift
/// let reader = try CSVReader(path: "leads.csv")
/// while let record = try reader.next() {
///     print(record.line, record.fields)
/// }
/// ```
///
/// Behaviour:
/// - **Input**: a file path or descriptor, read in `chunkSize` pieces with `read(2)`, or an
///   in-memory byte array. Memory use is bounded by the buffers and caps of
///   ``CSVReaderOptions``, whatever the input size.
/// - **Encodings**: UTF-8 (a BOM is stripped), UTF-16 LE/BE with BOM, and UTF-16 without BOM
///   when the first bytes show the NUL-every-other-byte pattern of mostly-ASCII text.
///   UTF-16 is transcoded to UTF-8 on the fly. Windows-1252 and Mac Roman, which cannot be
///   told from UTF-8 reliably, are read when ``CSVReaderOptions/encoding`` names them.
///   See ``encoding``.
/// - **Validation**: invalid UTF-8 is *rejected*, never replaced (a replaced character would
///   register a wrong name); so are NUL bytes and unpaired UTF-16 surrogates. These errors
///   consume the offending record: the caller may log it and call ``next()`` again.
/// - **Quoting** (RFC 4180): quoted fields may contain the delimiter, `""` (one literal quote)
///   and CR / LF / CRLF, which are kept as they are in the value. Lenient rules: a quote
///   inside an unquoted field (`ab"c`) is kept literally, and text after a closing quote
///   (`"ab"c`) is appended literally (`abc`), like Python's `csv` and most spreadsheets.
///   A quote still open at end of input is an error naming the line where it opened.
/// - **Records** end at CRLF, LF or a lone CR (classic Mac / Excel "CSV (Macintosh)"), mixed
///   freely. A final line without line break is a record. **Blank lines** (a line break right
///   after another, outside quotes) are skipped but still counted, so ``CSVRecord/line`` is
///   always the physical 1-based line where the record starts. An empty file has no records.
///   Note that a line holding only `""` is a record with one empty field, not a blank line.
/// - **Limits**: ``CSVReaderOptions/maxFieldBytes``, ``CSVReaderOptions/maxRecordBytes`` and
///   ``CSVReaderOptions/maxFields`` are checked as bytes arrive, so a 1 GB single-line file
///   fails after reading about one cap's worth of data, naming the line. These errors are
///   recoverable: the next call skips the rest of the offending record.
///
/// The reader owns its file descriptor (unless created with `closeOnDeinit: false`) and
/// closes it in `deinit` or in ``close()``. It is not thread-safe; use it from one task.
public final class CSVReader {
    private var core: ReaderCore

    /// Opens a file for reading.
    /// - Parameters:
    ///   - path: The file to read. Directories and sockets are rejected with `.notAFile`.
    ///   - options: Delimiter, chunk size and caps.
    /// - Throws: `.io(errno:)` if the file cannot be opened or read, `.notAFile`,
    ///   `.invalidOption`.
    public convenience init(path: String, options: CSVReaderOptions = CSVReaderOptions()) throws(CSVError) {
        try CSVReader.validate(options)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CSVError.io(errno, "open") }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            _ = systemClose(fd)
            throw CSVError.io(e, "stat")
        }
        let type = st.st_mode & S_IFMT
        if type != S_IFREG && type != S_IFIFO && type != S_IFCHR {
            _ = systemClose(fd)
            throw CSVError(code: .notAFile, line: nil, message: "not a regular file")
        }
        #if os(Linux)
        if type == S_IFREG { _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL)) }
        #endif
        try self.init(raw: RawSource(fd: fd, ownsFD: true), options: options)
    }

    /// Reads from an already open file descriptor, e.g. `0` for standard input.
    ///
    /// Like every initializer, this reads ahead during `init`: up to 4 KiB to detect the
    /// encoding and, when sniffing, up to 64 KiB or 10 lines; on a pipe it blocks until
    /// that much has arrived or the writer closes it.
    /// - Parameters:
    ///   - fileDescriptor: A readable descriptor.
    ///   - closeOnDeinit: Whether the reader closes the descriptor when done (default `false`).
    ///   - options: Delimiter, chunk size and caps.
    /// - Throws: `.io(errno:)` on a read error, `.invalidOption`.
    public convenience init(
        fileDescriptor: Int32,
        closeOnDeinit: Bool = false,
        options: CSVReaderOptions = CSVReaderOptions()
    ) throws(CSVError) {
        try CSVReader.validate(options)
        try self.init(raw: RawSource(fd: fileDescriptor, ownsFD: closeOnDeinit), options: options)
    }

    /// Reads from bytes in memory (tests, fuzzing, small uploads). The bytes are still consumed
    /// in `chunkSize` slices, exactly like a file.
    /// - Parameters:
    ///   - bytes: The raw file contents, in any supported encoding.
    ///   - options: Delimiter, chunk size and caps.
    /// - Throws: `.invalidOption`.
    public convenience init(bytes: [UInt8], options: CSVReaderOptions = CSVReaderOptions()) throws(CSVError) {
        try CSVReader.validate(options)
        try self.init(raw: RawSource(memory: bytes), options: options)
    }

    private init(raw: RawSource, options: CSVReaderOptions) throws(CSVError) {
        var raw = raw
        do {
            try raw.fillHead(count: 4096)
        } catch {
            raw.close()
            throw error
        }
        core = ReaderCore(raw: raw, options: options)
        do {
            try core.prepareDelimiter(options.delimiter)
        } catch {
            core.release()
            throw error
        }
    }

    private static func validate(_ o: CSVReaderOptions) throws(CSVError) {
        if o.chunkSize < 1 || o.maxFieldBytes < 1 || o.maxRecordBytes < 1 || o.maxFields < 1 {
            throw CSVError(
                code: .invalidOption,
                line: nil,
                message: "chunkSize, maxFieldBytes, maxRecordBytes and maxFields must be ≥ 1"
            )
        }
    }

    deinit {
        core.release()
    }

    /// The detected encoding of the input.
    public var encoding: CSVEncoding { core.source.encoding }

    /// Whether the input started with a byte-order mark (UTF-8 or UTF-16).
    public var hadByteOrderMark: Bool { core.hadBOM }

    /// The delimiter in use: the explicit one, or the sniffed one (`,` when nothing matched).
    public var delimiter: CSVDelimiter { core.delimiter }

    /// Raw bytes consumed from the file or array so far (includes read-ahead); for progress.
    public var bytesRead: Int { core.source.raw.bytesRead }

    /// Reads the next record.
    /// - Returns: The record, or `nil` at end of input.
    /// - Throws: ``CSVError``; see ``CSVError/isRecoverable`` for whether reading may go on.
    public func next() throws(CSVError) -> CSVRecord? {
        guard try core.advance() else { return nil }
        return CSVRecord(fields: core.makeFields(), line: core.recordLine)
    }

    /// Reads the next record into `record`, reusing its array storage when it is uniquely
    /// referenced (slightly faster than ``next()`` in tight loops).
    /// - Parameter record: Overwritten with the next record; unchanged at end of input.
    /// - Returns: `false` at end of input.
    /// - Throws: ``CSVError``.
    public func next(into record: inout CSVRecord) throws(CSVError) -> Bool {
        guard try core.advance() else { return false }
        core.appendFields(to: &record.fields)
        record.line = core.recordLine
        return true
    }

    /// Cursor API: parses the next record into internal buffers without creating strings.
    /// Read it with ``fieldCount``, ``line``, ``field(_:)`` and ``withFieldBytes(_:_:)``;
    /// they are valid until the next call.
    /// - Returns: `false` at end of input.
    /// - Throws: ``CSVError``.
    public func advance() throws(CSVError) -> Bool {
        try core.advance()
    }

    /// Cursor API: the 1-based line where the current record starts.
    public var line: Int { core.recordLine }

    /// Cursor API: the number of fields of the current record.
    public var fieldCount: Int { core.fieldCount }

    /// Cursor API: the value of field `index` (0-based, `< fieldCount`) of the current record.
    /// - Parameter index: The field index.
    /// - Returns: The field as a `String`.
    public func field(_ index: Int) -> String {
        precondition(index >= 0 && index < core.fieldCount, "field index out of range")
        return String(decoding: core.fieldBytes(index), as: UTF8.self)
    }

    /// Cursor API: calls `body` with the validated UTF-8 bytes of field `index` of the current
    /// record. The buffer must not escape `body`.
    /// - Parameters:
    ///   - index: The field index (0-based, `< fieldCount`).
    ///   - body: Receives the field bytes.
    /// - Returns: What `body` returns.
    public func withFieldBytes<R, E: Error>(
        _ index: Int,
        _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R
    ) throws(E) -> R {
        precondition(index >= 0 && index < core.fieldCount, "field index out of range")
        let bytes = core.fieldBytes(index)  // the access to `core` ends here; body may re-enter
        return try body(bytes)
    }

    /// Closes the input now (also done by `deinit`). Later reads return end of input.
    public func close() {
        core.closeInput()
    }
}

// MARK: - Core

private let LF: UInt8 = 0x0A
private let CR: UInt8 = 0x0D
private let QUOTE: UInt8 = 0x22

/// Byte classes for the scanning loops.
private let plain: UInt8 = 0
private let stop: UInt8 = 1
private let check: UInt8 = 2  // non-ASCII or NUL: needs UTF-8 validation at record end

private let swarOnes: UInt64 = 0x0101_0101_0101_0101
private let swarHigh: UInt64 = 0x8080_8080_8080_8080
private let swarCR: UInt64 = 0x0D0D_0D0D_0D0D_0D0D
private let swarLF: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
private let swarQuote: UInt64 = 0x2222_2222_2222_2222

/// Byte classes shared by both tables before the stop bytes are set: NUL and non-ASCII bytes
/// need validation, everything else is plain.
private let baseClasses: [UInt8] = (0..<256).map { $0 == 0 || $0 >= 0x80 ? check : plain }

/// Non-zero iff some byte of `x` is zero; the lowest set bit (0x80 of a byte) marks the
/// first zero byte exactly (borrows only propagate upwards).
@inline(__always)
private func swarZero(_ x: UInt64) -> UInt64 {
    (x &- swarOnes) & ~x & swarHigh
}

/// All mutable reader state, kept in a struct so the hot loops use static exclusivity.
struct ReaderCore {
    /// Parser states. All of them are resumable: after a cap error the next `advance` re-enters
    /// the machine in the saved state, discarding bytes up to the end of the record.
    enum State { case fieldStart, unquoted, quoted, quotedAfterCR, afterQuote, done }

    var source: DecodedSource
    var hadBOM = false
    var delimiter = CSVDelimiter.comma
    var delim: UInt8 = 0x2C

    // Decoded input window.
    let work: UnsafeMutablePointer<UInt8>
    var pos = 0
    var end = 0
    var eof = false
    var closed = false

    /// Current physical line (1-based) at `pos`.
    var line = 1
    /// The previous record ended with CR: an immediately following LF belongs to it.
    var pendingLF = false

    // Current record.
    var value: UnsafeMutablePointer<UInt8>
    var valueCap: Int
    var valueLen = 0
    var ends: UnsafeMutablePointer<Int>
    var endsCap: Int
    var fieldCount = 0
    var recordLine = 0
    var needsCheck = false

    // Resumable parse state.
    var state = State.fieldStart
    var fieldStartLen = 0
    var fieldLine = 0
    var inRecord = false
    var discarding = false
    var sticky: CSVError?

    // Limits.
    let maxFieldBytes: Int
    let maxRecordBytes: Int
    let maxFields: Int

    /// 256-entry class tables for unquoted and quoted scanning.
    let ucls: UnsafeMutablePointer<UInt8>
    let qcls: UnsafeMutablePointer<UInt8>

    init(raw: RawSource, options: CSVReaderOptions) {
        var raw = raw
        let (enc, bom) = options.encoding.map { ($0, bomLength(raw.head, for: $0)) } ?? detectEncoding(raw.head)
        raw.headOffset = bom
        if raw.headOffset >= raw.head.count {
            raw.head = []
            raw.headOffset = 0
        }
        hadBOM = bom > 0
        source = DecodedSource(raw: raw, encoding: enc, chunkSize: options.chunkSize)
        work = .allocate(capacity: source.outputCapacity)
        maxFieldBytes = options.maxFieldBytes
        maxRecordBytes = options.maxRecordBytes
        maxFields = options.maxFields
        valueCap = Swift.min(4096, maxRecordBytes)
        value = .allocate(capacity: valueCap)
        endsCap = Swift.min(64, maxFields)
        ends = .allocate(capacity: endsCap)
        ucls = .allocate(capacity: 512)
        qcls = ucls + 256
    }

    mutating func release() {
        source.release()
        work.deallocate()
        value.deallocate()
        ends.deallocate()
        ucls.deallocate()  // also frees qcls (same block)
    }

    mutating func closeInput() {
        source.raw.close()
        source.pending = []
        source.pendingOffset = 0
        pos = 0
        end = 0
        eof = true
        closed = true
        inRecord = false
    }

    // MARK: Delimiter

    mutating func prepareDelimiter(_ explicit: CSVDelimiter?) throws(CSVError) {
        if let explicit {
            delimiter = explicit
        } else {
            delimiter = try sniff()
        }
        delim = delimiter.byte
        baseClasses.withUnsafeBufferPointer { base in
            ucls.update(from: base.baseAddress!, count: 256)
            qcls.update(from: base.baseAddress!, count: 256)
        }
        ucls[Int(delim)] = stop
        ucls[Int(CR)] = stop
        ucls[Int(LF)] = stop
        qcls[Int(QUOTE)] = stop
        qcls[Int(CR)] = stop
        qcls[Int(LF)] = stop
    }

    /// Decodes ahead (≤ 64 KiB + one chunk) into `source.pending` and picks the delimiter.
    private mutating func sniff() throws(CSVError) -> CSVDelimiter {
        var sample: [UInt8] = []
        sample.reserveCapacity(Swift.min(DelimiterSniffer.maxBytes, 4 * source.chunkSize) + source.outputCapacity)
        var sniffer = DelimiterSniffer()
        var atEOF = false
        while !sniffer.isDone {
            let n = try source.fill(into: work)
            if n == 0 {
                atEOF = true
                break
            }
            let chunk = UnsafeBufferPointer(start: work, count: n)
            sniffer.feed(chunk)
            sample.append(contentsOf: chunk)
        }
        source.pending = sample
        source.pendingOffset = 0
        return sniffer.decide(atEOF: atEOF)
    }

    // MARK: Parsing

    @inline(__always)
    private mutating func refill() throws(CSVError) -> Bool {
        if eof { return false }
        let n = try source.fill(into: work)
        if n == 0 {
            eof = true
            pos = 0
            end = 0
            return false
        }
        pos = 0
        end = n
        return true
    }

    mutating func advance() throws(CSVError) -> Bool {
        if let sticky { throw sticky }
        do throws(CSVError) {
            if inRecord {
                // A cap error interrupted the previous record: skip the rest of it.
                discarding = true
                defer { discarding = false }
                try parseRecord()
                inRecord = false
            }
            fieldCount = 0
            valueLen = 0
            // Skip blank lines (and the LF of a CRLF that ended the previous record).
            while true {
                if pos == end { guard try refill() else { return false } }
                let b = work[pos]
                if b == LF {
                    pos += 1
                    if pendingLF { pendingLF = false } else { line += 1 }
                    continue
                }
                pendingLF = false
                if b == CR {
                    pos += 1
                    line += 1
                    pendingLF = true
                    continue
                }
                break
            }
            recordLine = line
            needsCheck = false
            state = .fieldStart
            inRecord = true
            try parseRecord()
            inRecord = false
            if needsCheck { try validateRecord() }
            return true
        } catch {
            if !error.isRecoverable { sticky = error }
            throw error
        }
    }

    /// Runs the state machine until the end of the current record.
    private mutating func parseRecord() throws(CSVError) {
        while true {
            switch state {
            case .fieldStart:
                fieldStartLen = valueLen
                fieldLine = line
                if pos == end, try !refill() {
                    // End of input right after a delimiter: a final empty field.
                    state = .done
                    try finishField()
                    return
                }
                if work[pos] == QUOTE {
                    pos += 1
                    state = .quoted
                } else {
                    state = .unquoted
                }

            case .unquoted:
                try appendRun(classes: ucls, firstStop: swarOnes &* UInt64(delim))
                if pos == end {
                    if try refill() { continue }
                    state = .done
                    try finishField()
                    return
                }
                let b = work[pos]
                pos += 1
                if b == delim {
                    state = .fieldStart
                    try finishField()
                    continue
                }
                line += 1
                if b == CR { pendingLF = true }
                state = .done
                try finishField()
                return

            case .quoted:
                try appendRun(classes: qcls, firstStop: swarQuote)
                if pos == end {
                    if try refill() { continue }
                    throw CSVError(
                        code: .unterminatedQuote,
                        line: fieldLine,
                        message: "unterminated quoted field starting at line \(fieldLine)"
                    )
                }
                let b = work[pos]
                if b == QUOTE {
                    pos += 1
                    state = .afterQuote
                    continue
                }
                try appendByte(b)  // before consuming: a cap error leaves the state resumable
                pos += 1
                line += 1
                if b == CR { state = .quotedAfterCR }

            case .quotedAfterCR:
                // CRLF inside quotes is one line break; keep both bytes.
                if pos == end, try !refill() {
                    state = .quoted  // reports the unterminated quote
                    continue
                }
                if work[pos] == LF {
                    try appendByte(LF)
                    pos += 1
                }
                state = .quoted

            case .afterQuote:
                if pos == end, try !refill() {
                    state = .done
                    try finishField()
                    return
                }
                let b = work[pos]
                if b == QUOTE {
                    try appendByte(QUOTE)
                    pos += 1
                    state = .quoted
                } else if b == delim {
                    pos += 1
                    state = .fieldStart
                    try finishField()
                } else if b == LF || b == CR {
                    pos += 1
                    line += 1
                    if b == CR { pendingLF = true }
                    state = .done
                    try finishField()
                    return
                } else {
                    // Lenient: text after the closing quote is kept literally.
                    state = .unquoted
                }

            case .done:
                return
            }
        }
    }

    /// Appends the bytes from `pos` up to the next stop byte of `cls` (or the end of the window)
    /// to the value and moves `pos` there; sets `needsCheck` if any of them is NUL or non-ASCII.
    /// The stop bytes are the ones in `firstStop` (that byte in every lane), CR and LF, as in `cls`.
    /// On a cap error `pos` is left where it was, so the state stays resumable.
    @inline(__always)
    private mutating func appendRun(classes cls: UnsafeMutablePointer<UInt8>, firstStop: UInt64) throws(CSVError) {
        let e = end
        var p = pos
        var flagged = false
        #if _endian(little)
        // SWAR: 8 bytes at a time until a word holds a stop byte.
        while p &+ 8 <= e {
            let x = UnsafeRawPointer(work + p).loadUnaligned(as: UInt64.self)
            let stops = swarZero(x ^ firstStop) | swarZero(x ^ swarCR) | swarZero(x ^ swarLF)
            let checks = (x & swarHigh) | swarZero(x)
            if stops == 0 {
                if checks != 0 { flagged = true }
                p &+= 8
                continue
            }
            let k = stops.trailingZeroBitCount &>> 3
            if checks & ((1 &<< (UInt64(k) &* 8)) &- 1) != 0 { flagged = true }
            p &+= k
            break
        }
        #endif
        while p < e {
            let c = cls[Int(work[p])]
            if c == plain {
                p &+= 1
            } else if c == check {
                flagged = true
                p &+= 1
            } else {
                break
            }
        }
        if flagged { needsCheck = true }
        if p > pos { try append(work + pos, p - pos) }
        pos = p
    }

    @inline(__always)
    private mutating func append(_ src: UnsafePointer<UInt8>, _ n: Int) throws(CSVError) {
        if discarding { return }
        let newLen = valueLen + n
        let fieldOver = newLen - fieldStartLen > maxFieldBytes
        let recordOver = newLen > maxRecordBytes
        if fieldOver || recordOver {
            // Report the cap that byte-by-byte appending would hit first, so that the error
            // does not depend on how the input was chunked.
            if fieldOver && (!recordOver || maxFieldBytes - (valueLen - fieldStartLen) <= maxRecordBytes - valueLen) {
                throw fieldTooLarge()
            }
            throw recordTooLarge()
        }
        if newLen > valueCap { growValue(newLen) }
        (value + valueLen).update(from: src, count: n)
        valueLen = newLen
    }

    @inline(__always)
    private mutating func appendByte(_ b: UInt8) throws(CSVError) {
        if discarding { return }
        let newLen = valueLen + 1
        if newLen - fieldStartLen > maxFieldBytes { throw fieldTooLarge() }
        if newLen > maxRecordBytes { throw recordTooLarge() }
        if newLen > valueCap { growValue(newLen) }
        value[valueLen] = b
        valueLen = newLen
    }

    private mutating func growValue(_ needed: Int) {
        var cap = valueCap
        while cap < needed { cap *= 2 }
        cap = Swift.min(cap, maxRecordBytes)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        p.update(from: value, count: valueLen)
        value.deallocate()
        value = p
        valueCap = cap
    }

    @inline(__always)
    private mutating func finishField() throws(CSVError) {
        if discarding { return }
        if fieldCount == endsCap {
            if fieldCount >= maxFields {
                throw CSVError(
                    code: .tooManyFields,
                    line: recordLine,
                    message: "record at line \(recordLine) has more than \(maxFields) fields (maxFields)"
                )
            }
            let cap = Swift.min(endsCap * 2, maxFields)
            let p = UnsafeMutablePointer<Int>.allocate(capacity: cap)
            p.update(from: ends, count: fieldCount)
            ends.deallocate()
            ends = p
            endsCap = cap
        }
        ends[fieldCount] = valueLen
        fieldCount += 1
    }

    private func fieldTooLarge() -> CSVError {
        let hint = state == .quoted || state == .quotedAfterCR ? " (an unterminated quote?)" : ""
        return CSVError(
            code: .fieldTooLarge,
            line: fieldLine,
            message:
                "field \(fieldCount + 1) starting at line \(fieldLine) exceeds \(maxFieldBytes) bytes (maxFieldBytes)\(hint)"
        )
    }

    private func recordTooLarge() -> CSVError {
        CSVError(
            code: .recordTooLarge,
            line: recordLine,
            message: "record starting at line \(recordLine) exceeds \(maxRecordBytes) bytes (maxRecordBytes)"
        )
    }

    /// Full UTF-8 / NUL validation of the current record, field by field.
    private func validateRecord() throws(CSVError) {
        var start = 0
        for i in 0..<fieldCount {
            let stop = ends[i]
            if let problem = firstInvalidUTF8(value + start, stop - start) {
                var lineAtField = recordLine
                for j in 0..<i {
                    let s = j == 0 ? 0 : ends[j - 1]
                    lineAtField += countLineBreaks(value + s, ends[j] - s)
                }
                let errLine = lineAtField + countLineBreaks(value + start, problem.offset)
                let place = "at line \(errLine) (field \(i + 1))"
                let (code, message): (CSVError.Code, String) =
                    switch (problem.isNUL, source.encoding == .utf8) {
                    case (true, true): (.nulByte, "NUL byte \(place): is this a binary or UTF-16 file?")
                    case (true, false): (.nulByte, "NUL character (U+0000) \(place)")
                    case (false, true): (.invalidUTF8, "invalid UTF-8 \(place); re-export the file as UTF-8")
                    case (false, false):
                        (.invalidUTF16, "invalid \(source.encoding) (unpaired surrogate or truncated data) \(place)")
                    }
                throw CSVError(code: code, line: errLine, message: message)
            }
            start = stop
        }
    }

    // MARK: Field access

    /// The bytes of field `i` of the current record (valid until the next `advance`).
    /// `mutating` only so that callers through the class do not copy the whole struct.
    @inline(__always)
    mutating func fieldBytes(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let s = i == 0 ? 0 : ends[i - 1]
        return UnsafeBufferPointer(start: value + s, count: ends[i] - s)
    }

    mutating func makeFields() -> [String] {
        let n = fieldCount
        let value = self.value
        let ends = self.ends
        return [String](unsafeUninitializedCapacity: n) { buf, count in
            var s = 0
            for i in 0..<n {
                let e = ends[i]
                (buf.baseAddress! + i).initialize(
                    to: String(decoding: UnsafeBufferPointer(start: value + s, count: e - s), as: UTF8.self)
                )
                s = e
            }
            count = n
        }
    }

    mutating func appendFields(to fields: inout [String]) {
        fields.removeAll(keepingCapacity: true)
        fields.reserveCapacity(fieldCount)
        var s = 0
        for i in 0..<fieldCount {
            let e = ends[i]
            fields.append(String(decoding: UnsafeBufferPointer(start: value + s, count: e - s), as: UTF8.self))
            s = e
        }
    }
}

/// Picks the delimiter among `,` `;` tab `|` from the first lines of the input.
///
/// Fed incrementally, it looks at the first 10 non-blank lines or the first 64 KiB, whichever
/// comes first (so the choice never depends on the chunk size). Each candidate is counted
/// outside quotes per line. Among candidates present in the first line, one whose count is the
/// same on every sampled line wins (largest count first, then the order `,` `;` tab `|`);
/// otherwise the largest first-line count wins; otherwise `,`. A line cut off by the 64 KiB
/// limit is only used when it is the only one.
struct DelimiterSniffer {
    static let maxLines = 10
    static let maxBytes = 65_536

    private var lines: [SIMD4<Int32>] = []
    private var current = SIMD4<Int32>(repeating: 0)
    private var inQuotes = false
    private var lineHasContent = false
    private var consumed = 0

    /// Whether enough has been seen.
    var isDone: Bool { lines.count >= DelimiterSniffer.maxLines || consumed >= DelimiterSniffer.maxBytes }

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        for b in bytes {
            if isDone { return }
            consumed += 1
            if b == QUOTE {
                inQuotes.toggle()
                lineHasContent = true
            } else if !inQuotes && (b == LF || b == CR) {
                if lineHasContent { lines.append(current) }
                current = SIMD4<Int32>(repeating: 0)
                lineHasContent = false
            } else {
                lineHasContent = true
                if !inQuotes {
                    // Same order as `CSVDelimiter.sniffCandidates`: `,` `;` tab `|`.
                    switch b {
                    case 0x2C: current[0] &+= 1
                    case 0x3B: current[1] &+= 1
                    case 0x09: current[2] &+= 1
                    case 0x7C: current[3] &+= 1
                    default: break
                    }
                }
            }
        }
    }

    /// The chosen delimiter; `atEOF` tells whether the input ended while feeding.
    func decide(atEOF: Bool) -> CSVDelimiter {
        let candidates = CSVDelimiter.sniffCandidates
        var lines = self.lines
        if lineHasContent && lines.count < DelimiterSniffer.maxLines && (atEOF || lines.isEmpty) {
            lines.append(current)
        }
        guard let first = lines.first else { return .comma }
        var best: Int?
        for k in candidates.indices where first[k] > 0 && lines.allSatisfy({ $0[k] == first[k] }) {
            if best == nil || first[k] > first[best!] { best = k }
        }
        if best == nil {
            for k in candidates.indices where first[k] > 0 {
                if best == nil || first[k] > first[best!] { best = k }
            }
        }
        return best.map { candidates[$0] } ?? .comma
    }
}
