#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The line terminator written after each record.
public enum CSVLineEnding: Sendable, Hashable {
    /// `\r\n`, as RFC 4180 prescribes (and Excel expects). The default.
    case crlf
    /// `\n`.
    case lf
}

/// Configuration of a ``CSVWriter``.
public struct CSVWriterOptions: Sendable, Hashable {
    /// The field delimiter. Default `,`.
    public var delimiter: CSVDelimiter
    /// The record terminator. Default CRLF.
    public var lineEnding: CSVLineEnding
    /// CSV / formula injection defence (OWASP): a field starting with `=`, `+`, `-`, `@`, tab
    /// or CR gets a leading `'` so spreadsheets show it as text instead of evaluating it;
    /// phone numbers and plain numbers (`+44 20 7946 0958`, `-5`) are left alone. Default `false`.
    public var excelSafe: Bool
    /// Size of the output buffer in bytes (≥ 64). Default 256 KiB.
    public var bufferSize: Int

    /// Creates writer options.
    /// - Parameters:
    ///   - delimiter: The field delimiter.
    ///   - lineEnding: The record terminator.
    ///   - excelSafe: Whether to neutralise formula-like cells.
    ///   - bufferSize: Output buffer size in bytes.
    public init(
        delimiter: CSVDelimiter = .comma,
        lineEnding: CSVLineEnding = .crlf,
        excelSafe: Bool = false,
        bufferSize: Int = 256 * 1024
    ) {
        self.delimiter = delimiter
        self.lineEnding = lineEnding
        self.excelSafe = excelSafe
        self.bufferSize = bufferSize
    }
}

/// A buffered, streaming CSV writer (RFC 4180).
///
/// Fields are quoted only when they contain the delimiter, `"`, CR or LF (or start with U+FEFF,
/// which a reader would otherwise strip as a byte-order mark); inner quotes are doubled. A record made of a single empty field is written as `""` so that it does not read
/// back as a blank line; a record with no fields is written as an empty line (which readers
/// skip).
///
/// Output goes to a file descriptor (``init(fileDescriptor:closeOnDeinit:options:)``,
/// ``init(path:options:)``, ``standardOutput(options:)``) or to memory (``init(options:)``,
/// then ``memoryOutput``). Write errors such as `EPIPE` or `ENOSPC` are thrown as
/// `.io(errno:)`; after one, every later call throws it again. `deinit` flushes on a best-effort
/// basis and ignores errors: call ``flush()`` or ``close()`` to see them. Not thread-safe.
public final class CSVWriter {
    /// The state lives behind a pointer the writer owns: a class's stored `var` would cost a
    /// dynamic exclusivity check on every call, which a field-by-field export makes millions of.
    private let core: UnsafeMutablePointer<WriterCore>

    /// Writes to an open file descriptor.
    /// - Parameters:
    ///   - fileDescriptor: A writable descriptor (e.g. `1` for standard output).
    ///   - closeOnDeinit: Whether ``close()`` / `deinit` close the descriptor (default `false`).
    ///   - options: Delimiter, line ending, excel-safe mode, buffer size.
    public init(fileDescriptor: Int32, closeOnDeinit: Bool = false, options: CSVWriterOptions = CSVWriterOptions()) {
        core = .allocate(capacity: 1)
        core.initialize(to: WriterCore(fd: fileDescriptor, ownsFD: closeOnDeinit, memory: false, options: options))
    }

    /// Writes to memory; read the result with ``memoryOutput``.
    /// - Parameter options: Delimiter, line ending, excel-safe mode, buffer size.
    public init(options: CSVWriterOptions = CSVWriterOptions()) {
        core = .allocate(capacity: 1)
        core.initialize(to: WriterCore(fd: -1, ownsFD: false, memory: true, options: options))
    }

    /// Creates (or truncates) a file with mode 0644 and writes to it; the writer owns the
    /// descriptor.
    /// - Parameters:
    ///   - path: The output file.
    ///   - options: Delimiter, line ending, excel-safe mode, buffer size.
    /// - Throws: `.io(errno:)` if the file cannot be created.
    public convenience init(path: String, options: CSVWriterOptions = CSVWriterOptions()) throws(CSVError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CSVError.io(errno, "open") }
        self.init(fileDescriptor: fd, closeOnDeinit: true, options: options)
    }

    /// A writer on standard output (fd 1), which it does not close.
    /// - Parameter options: Delimiter, line ending, excel-safe mode, buffer size.
    /// - Returns: The writer.
    public static func standardOutput(options: CSVWriterOptions = CSVWriterOptions()) -> CSVWriter {
        CSVWriter(fileDescriptor: 1, closeOnDeinit: false, options: options)
    }

    deinit {
        if core.pointee.failure == nil { try? core.pointee.flush() }
        core.pointee.release()
        core.deinitialize(count: 1)
        core.deallocate()
    }

    /// For in-memory writers: everything written so far (flushes the buffer first).
    /// Empty for descriptor-backed writers.
    public var memoryOutput: [UInt8] {
        guard core.pointee.memory != nil else { return [] }
        try? core.pointee.flush()
        return core.pointee.memory ?? []
    }

    /// Writes one record followed by the line ending.
    /// - Parameter record: The field values.
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func write(record: some Collection<String>) throws(CSVError) {
        try core.pointee.writeRecord(record)
    }

    /// Writes one record followed by the line ending (fast path for arrays).
    /// - Parameter record: The field values.
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func write(record: [String]) throws(CSVError) {
        try core.pointee.write(record)
    }

    /// Writes the next field of the current record from its UTF-8 bytes, quoted as needed
    /// (for callers that hold values as bytes, such as rows stored in a database: no `String`
    /// per field). End the record with ``endRecord()``; do not call ``write(record:)`` between
    /// the fields of one record.
    /// - Parameter utf8: The field's bytes (valid UTF-8; written as they are).
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func writeField(utf8: UnsafeRawBufferPointer) throws(CSVError) {
        try core.pointee.beginField(empty: utf8.isEmpty)
        guard let base = utf8.baseAddress, utf8.count > 0 else { return }
        try core.pointee.writeFieldBytes(base.assumingMemoryBound(to: UInt8.self), utf8.count)
    }

    /// Writes the next field of the current record (see ``writeField(utf8:)``).
    /// - Parameter value: The field's value.
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func writeField(_ value: String) throws(CSVError) {
        try core.pointee.beginField(empty: value.isEmpty)
        try core.pointee.writeField(value)
    }

    /// Ends the record begun by ``writeField(utf8:)`` / ``writeField(_:)``: writes the line
    /// ending (a record of one empty field is written `""`, so that it is not a blank line).
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func endRecord() throws(CSVError) {
        try core.pointee.endRecord()
    }

    /// Writes the UTF-8 byte order mark (EF BB BF), which Excel needs to read a file as UTF-8.
    /// Call it before the first record.
    /// - Throws: `.io(errno:)` when a buffer flush fails.
    public func writeByteOrderMark() throws(CSVError) {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        try bom.withUnsafeBufferPointer { (b) throws(CSVError) in try core.pointee.putBytes(b.baseAddress!, 3) }
    }

    /// Writes the buffered bytes to the descriptor.
    /// - Throws: `.io(errno:)` (e.g. `EPIPE`, `ENOSPC`).
    public func flush() throws(CSVError) {
        try core.pointee.flush()
    }

    /// Flushes, then closes the descriptor if the writer owns it. Later writes throw `EBADF`.
    /// - Throws: `.io(errno:)` from the flush or from `close(2)`.
    public func close() throws(CSVError) {
        try core.pointee.close()
    }
}

/// All writer state, kept in a struct so the hot path uses static exclusivity.
struct WriterCore {
    var fd: Int32
    var ownsFD: Bool
    let buffer: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0
    let delimiter: UInt8
    let crlf: Bool
    let excelSafe: Bool
    let needsQuote: UnsafeMutablePointer<Bool>
    var failure: CSVError?
    var memory: [UInt8]?
    /// The record being written field by field: fields so far, and whether the first was empty
    /// (a record of one empty field is written `""`).
    var fieldsInRecord = 0
    var firstFieldEmpty = false

    init(fd: Int32, ownsFD: Bool, memory: Bool, options: CSVWriterOptions) {
        self.fd = fd
        self.ownsFD = ownsFD
        self.memory = memory ? [] : nil
        capacity = Swift.max(64, options.bufferSize)
        buffer = .allocate(capacity: capacity)
        delimiter = options.delimiter.byte
        crlf = options.lineEnding == .crlf
        excelSafe = options.excelSafe
        needsQuote = .allocate(capacity: 256)
        needsQuote.initialize(repeating: false, count: 256)
        needsQuote[Int(delimiter)] = true
        needsQuote[0x22] = true
        needsQuote[0x0A] = true
        needsQuote[0x0D] = true
    }

    mutating func release() {
        if ownsFD && fd >= 0 { _ = systemClose(fd) }
        ownsFD = false
        fd = -1
        buffer.deallocate()
        needsQuote.deallocate()
    }

    mutating func write(_ record: [String]) throws(CSVError) {
        if let failure { throw failure }
        let n = record.count
        // Fast path: reserve room for the worst case of the whole record once, then encode
        // without any call that could flush (keeps the loop free of retain/release).
        var worst = 2
        for i in 0..<n { worst &+= 2 &* record[i].utf8.count &+ 4 }
        if count + worst > capacity { try flush() }
        if worst <= capacity && !(n == 1 && record[0].isEmpty) {
            let dst = buffer
            var o = count
            for i in 0..<n {
                if i != 0 {
                    dst[o] = delimiter
                    o &+= 1
                }
                let nq = needsQuote
                let safe = excelSafe
                let here = dst + o
                let m = record[i].utf8.withContiguousStorageIfAvailable { src in
                    src.isEmpty
                        ? 0
                        : WriterCore.encodeBytes(
                            src.baseAddress!,
                            src.count,
                            into: here,
                            needsQuote: nq,
                            excelSafe: safe
                        )
                }
                o &+= m ?? WriterCore.encode(record[i], into: here, needsQuote: nq, excelSafe: safe)
            }
            count = o
            try writeLineEnding()
            return
        }
        try writeRecord(record)
    }

    /// One record, field by field: the general path (flushes as it goes).
    mutating func writeRecord(_ record: some Sequence<String>) throws(CSVError) {
        for field in record {
            try beginField(empty: field.isEmpty)
            try writeField(field)
        }
        try endRecord()
    }

    @inline(__always)
    mutating func beginField(empty: Bool) throws(CSVError) {
        if let failure { throw failure }
        if fieldsInRecord > 0 { try putDelimiter() } else { firstFieldEmpty = empty }
        fieldsInRecord &+= 1
    }

    mutating func endRecord() throws(CSVError) {
        if let failure { throw failure }
        if fieldsInRecord == 1 && firstFieldEmpty { try writeEmptyOnlyField() }
        fieldsInRecord = 0
        try writeLineEnding()
    }

    mutating func writeEmptyOnlyField() throws(CSVError) {
        try put(0x22)
        try put(0x22)
    }

    @inline(__always)
    mutating func putDelimiter() throws(CSVError) {
        try put(delimiter)
    }

    mutating func flush() throws(CSVError) {
        if let failure { throw failure }
        if count == 0 { return }
        if memory != nil {
            memory!.append(contentsOf: UnsafeBufferPointer(start: buffer, count: count))
            count = 0
            return
        }
        if fd < 0 {
            let err = CSVError.io(EBADF, "write")
            failure = err
            throw err
        }
        var off = 0
        while off < count {
            let r = systemWrite(fd, buffer + off, count - off)
            if r < 0 {
                let e = errno
                if e == EINTR { continue }
                let err = CSVError.io(e, "write")
                failure = err
                throw err
            }
            off += r
        }
        count = 0
    }

    mutating func close() throws(CSVError) {
        defer {
            if ownsFD && fd >= 0 { _ = systemClose(fd) }
            ownsFD = false
            fd = -1
        }
        try flush()
        if ownsFD && fd >= 0 {
            let r = systemClose(fd)
            ownsFD = false
            fd = -1
            if r != 0 {
                let err = CSVError.io(errno, "close")
                failure = err
                throw err
            }
        }
    }

    @inline(__always)
    mutating func writeLineEnding() throws(CSVError) {
        if count + 2 > capacity { try flush() }
        if crlf {
            buffer[count] = 0x0D
            buffer[count + 1] = 0x0A
            count += 2
        } else {
            buffer[count] = 0x0A
            count += 1
        }
    }

    @inline(__always)
    mutating func put(_ b: UInt8) throws(CSVError) {
        if count == capacity { try flush() }
        buffer[count] = b
        count += 1
    }

    mutating func putBytes(_ p: UnsafePointer<UInt8>, _ n: Int) throws(CSVError) {
        var p = p
        var n = n
        while n > 0 {
            if count == capacity { try flush() }
            let k = Swift.min(n, capacity - count)
            (buffer + count).update(from: p, count: k)
            count += k
            p += k
            n -= k
        }
    }

    @inline(__always)
    mutating func writeField(_ field: String) throws(CSVError) {
        let n = field.utf8.count
        if n == 0 { return }
        try putEncoded(worst: 2 * n + 3) { [needsQuote, excelSafe] dst in
            WriterCore.encode(field, into: dst, needsQuote: needsQuote, excelSafe: excelSafe)
        }
    }

    /// `writeField` for a field given as bytes (`n` > 0).
    @inline(__always)
    mutating func writeFieldBytes(_ src: UnsafePointer<UInt8>, _ n: Int) throws(CSVError) {
        try putEncoded(worst: 2 * n + 3) { [needsQuote, excelSafe] dst in
            WriterCore.encodeBytes(src, n, into: dst, needsQuote: needsQuote, excelSafe: excelSafe)
        }
    }

    /// Runs `encode` on the buffer when `worst` bytes (every byte a doubled quote, 2 quotes and
    /// the excel-safe apostrophe) fit after a flush; a field larger than the whole buffer is
    /// encoded into a temporary array and copied in pieces.
    @inline(__always)
    mutating func putEncoded(worst: Int, _ encode: (UnsafeMutablePointer<UInt8>) -> Int) throws(CSVError) {
        if count + worst > capacity {
            try flush()
            if worst > capacity {
                var tmp = [UInt8](repeating: 0, count: worst)
                let m = tmp.withUnsafeMutableBufferPointer { encode($0.baseAddress!) }
                try tmp.withUnsafeBufferPointer { (b) throws(CSVError) in try putBytes(b.baseAddress!, m) }
                return
            }
        }
        count += encode(buffer + count)
    }

    /// Encodes one field (quoted / escaped / excel-safe as needed) into `dst`, which must have
    /// room for `2 * utf8.count + 3` bytes. Returns the number of bytes written.
    @inline(__always)
    static func encode(
        _ field: String,
        into dst: UnsafeMutablePointer<UInt8>,
        needsQuote: UnsafeMutablePointer<Bool>,
        excelSafe: Bool
    ) -> Int {
        if let m = field.utf8.withContiguousStorageIfAvailable({ src in
            encodeBytes(src.baseAddress!, src.count, into: dst, needsQuote: needsQuote, excelSafe: excelSafe)
        }) {
            return m
        }
        // Non-contiguous (bridged) string: copy it once.
        return Array(field.utf8).withUnsafeBufferPointer { src in
            encodeBytes(src.baseAddress!, src.count, into: dst, needsQuote: needsQuote, excelSafe: excelSafe)
        }
    }

    @inline(__always)
    static func encodeBytes(
        _ src: UnsafePointer<UInt8>,
        _ n: Int,
        into dst: UnsafeMutablePointer<UInt8>,
        needsQuote: UnsafeMutablePointer<Bool>,
        excelSafe: Bool
    ) -> Int {
        let inject = excelSafe && needsFormulaGuard(src, n)
        // A leading U+FEFF is quoted so that a reader stripping a BOM cannot eat it.
        var quote = n >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF
        if !quote {
            for i in 0..<n where needsQuote[Int(src[i])] {
                quote = true
                break
            }
        }
        var o = 0
        if quote {
            dst[o] = 0x22
            o += 1
        }
        if inject {
            dst[o] = 0x27
            o += 1
        }
        if !quote {
            copyBytes(src, dst + o, n)
            return o + n
        }
        var start = 0
        for i in 0..<n where src[i] == 0x22 {
            let k = i + 1 - start  // up to and including the quote
            copyBytes(src + start, dst + o, k)
            o += k
            dst[o] = 0x22  // doubled
            o += 1
            start = i + 1
        }
        copyBytes(src + start, dst + o, n - start)
        o += n - start
        dst[o] = 0x22
        return o + 1
    }

    /// Inline copy (no call to memcpy, so the optimizer can keep the caller's strings at +0).
    @inline(__always)
    static func copyBytes(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n {
            UnsafeMutableRawPointer(dst + i).storeBytes(
                of: UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self),
                as: UInt64.self
            )
            i &+= 8
        }
        while i < n {
            dst[i] = src[i]
            i &+= 1
        }
    }

    /// A cell a spreadsheet would run as a formula: one starting with `=`, `+`, `-`, `@`, tab
    /// or CR, except a phone number or a plain number (`+44 20 7946 0958`, `-3`, `-2.5`):
    /// only digits, spaces and dots after the sign, which a spreadsheet neither runs nor
    /// recomputes (`+1-555-123-4567` it would show as -5244: that one keeps its guard), and
    /// which must go back into a CRM as they are.
    @inline(__always)
    static func needsFormulaGuard(_ src: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard isFormulaStart(src[0]) else { return false }
        guard src[0] == 0x2B || src[0] == 0x2D else { return true }
        var digit = false
        var i = 1
        while i < n {
            switch src[i] {
            case 0x30...0x39: digit = true
            case 0x20, 0x2E: break
            default: return true
            }
            i &+= 1
        }
        return !digit
    }

    @inline(__always)
    static func isFormulaStart(_ b: UInt8) -> Bool {
        b == 0x3D || b == 0x2B || b == 0x2D || b == 0x40 || b == 0x09 || b == 0x0D
    }
}
