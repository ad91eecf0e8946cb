#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Raw input bytes: a file descriptor or an in-memory array, preceded by a push-back `head`
/// (the bytes read ahead for encoding detection).
struct RawSource {
    var fd: Int32
    var ownsFD: Bool
    var memory: [UInt8]
    var memoryOffset = 0
    var head: [UInt8] = []
    var headOffset = 0
    /// Raw bytes consumed from the fd / array so far (progress reporting).
    var bytesRead = 0

    init(fd: Int32, ownsFD: Bool) {
        self.fd = fd
        self.ownsFD = ownsFD
        self.memory = []
    }

    init(memory: [UInt8]) {
        self.fd = -1
        self.ownsFD = false
        self.memory = memory
    }

    /// Reads up to `max` bytes; returns 0 at end of input.
    mutating func read(into p: UnsafeMutablePointer<UInt8>, max: Int) throws(CSVError) -> Int {
        if headOffset < head.count {
            let n = Swift.min(max, head.count - headOffset)
            head.withUnsafeBufferPointer { h in
                p.update(from: h.baseAddress! + headOffset, count: n)
            }
            headOffset += n
            if headOffset == head.count {
                head = []
                headOffset = 0
            }
            return n
        }
        return try readUnderlying(into: p, max: max)
    }

    private mutating func readUnderlying(into p: UnsafeMutablePointer<UInt8>, max: Int) throws(CSVError) -> Int {
        if fd < 0 {
            let n = Swift.min(max, memory.count - memoryOffset)
            if n <= 0 { return 0 }
            memory.withUnsafeBufferPointer { m in
                p.update(from: m.baseAddress! + memoryOffset, count: n)
            }
            memoryOffset += n
            bytesRead += n
            return n
        }
        while true {
            let r = systemRead(fd, p, max)
            if r >= 0 {
                bytesRead += r
                return r
            }
            let e = errno
            if e == EINTR { continue }
            throw CSVError.io(e, "read")
        }
    }

    /// Reads ahead up to `count` bytes (looping over short reads) into `head` for detection.
    mutating func fillHead(count: Int) throws(CSVError) {
        let count = fd < 0 ? Swift.min(count, memory.count - memoryOffset) : count
        var buf = [UInt8](repeating: 0, count: count)
        var have = 0
        while have < count {
            let n = try buf.withUnsafeMutableBufferPointer { (b) throws(CSVError) -> Int in
                try readUnderlying(into: b.baseAddress! + have, max: count - have)
            }
            if n == 0 { break }
            have += n
        }
        buf.removeSubrange(have...)
        head = buf
        headOffset = 0
    }

    mutating func close() {
        if ownsFD && fd >= 0 {
            _ = systemClose(fd)
        }
        fd = -1
        ownsFD = false
        memory = []
    }
}

// The C library's read, write and close, for the types whose own `read` or `close` hides them.
// Unqualified here at file scope, they are the C functions (Glibc, Musl or Darwin).

@inline(__always)
func systemRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }

@inline(__always)
func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

@inline(__always)
func systemClose(_ fd: Int32) -> Int32 { close(fd) }

/// The length of `encoding`'s BOM at the start of `head` (0 when absent, and always 0 for a
/// single-byte encoding).
func bomLength(_ head: [UInt8], for encoding: CSVEncoding) -> Int {
    switch encoding {
    case .utf8: return head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    case .utf16LittleEndian: return head.starts(with: [0xFF, 0xFE]) ? 2 : 0
    case .utf16BigEndian: return head.starts(with: [0xFE, 0xFF]) ? 2 : 0
    case .windows1252, .macRoman: return 0
    }
}

/// Detects the encoding from the first bytes. Returns the encoding and the BOM length.
func detectEncoding(_ head: [UInt8]) -> (CSVEncoding, bomLength: Int) {
    if head.count >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF {
        return (.utf8, 3)
    }
    if head.count >= 2 && head[0] == 0xFF && head[1] == 0xFE { return (.utf16LittleEndian, 2) }
    if head.count >= 2 && head[0] == 0xFE && head[1] == 0xFF { return (.utf16BigEndian, 2) }
    // No BOM: UTF-16 text that is mostly ASCII has a NUL in every other byte.
    let pairs = Swift.min(head.count, 1024) / 2  // 512 code units are plenty
    guard pairs > 0 else { return (.utf8, 0) }
    var zeroEven = 0
    var zeroOdd = 0
    for i in 0..<pairs {
        if head[2 * i] == 0 { zeroEven += 1 }
        if head[2 * i + 1] == 0 { zeroOdd += 1 }
    }
    // At least 70% of the code units have a zero high byte (ASCII / Latin-1), and (almost) no
    // zero byte on the other side. Binary data with NULs everywhere stays "UTF-8" (NUL error).
    if zeroOdd * 10 >= pairs * 7 && zeroEven * 20 <= pairs { return (.utf16LittleEndian, 0) }
    if zeroEven * 10 >= pairs * 7 && zeroOdd * 20 <= pairs { return (.utf16BigEndian, 0) }
    return (.utf8, 0)
}

/// Decoded UTF-8 input: the raw source, transcoded from UTF-16 if needed, preceded by
/// `pending` (bytes decoded ahead for delimiter sniffing).
struct DecodedSource {
    var raw: RawSource
    let encoding: CSVEncoding
    let chunkSize: Int
    /// UTF-16 or single-byte staging buffer (raw bytes), capacity `chunkSize + 4`; nil for UTF-8.
    let staging: UnsafeMutablePointer<UInt8>?
    /// Code points of bytes 0x80–0xFF, for a single-byte encoding.
    let highHalf: [UInt16]?
    /// Undecoded bytes at the start of `staging` (odd byte / high surrogate split by a read).
    var carry = 0
    var pending: [UInt8] = []
    var pendingOffset = 0

    /// Capacity the output buffer passed to `fill` must have.
    let outputCapacity: Int

    /// Marker emitted for an invalid UTF-16 sequence; never valid in UTF-8.
    static let invalidMarker: UInt8 = 0xFF

    init(raw: RawSource, encoding: CSVEncoding, chunkSize: Int) {
        self.raw = raw
        self.encoding = encoding
        self.chunkSize = chunkSize
        highHalf = encoding.highHalf
        if encoding == .utf8 {
            staging = nil
            outputCapacity = chunkSize
        } else if highHalf != nil {
            staging = .allocate(capacity: chunkSize + 4)
            // ≤ 3 UTF-8 bytes per byte (U+2000 and above).
            outputCapacity = 3 * chunkSize
        } else {
            staging = .allocate(capacity: chunkSize + 4)
            // ≤ (chunk+3)/2 code units, ≤ 3 UTF-8 bytes each (a surrogate pair: 4 for 2 units).
            outputCapacity = Swift.max(chunkSize, 3 * ((chunkSize + 3) / 2) + 4)
        }
    }

    mutating func release() {
        staging?.deallocate()
        raw.close()
        pending = []
    }

    /// Fills `out` (capacity ≥ `outputCapacity`) with decoded bytes; returns 0 at end of input.
    mutating func fill(into out: UnsafeMutablePointer<UInt8>) throws(CSVError) -> Int {
        if pendingOffset < pending.count {
            let n = Swift.min(chunkSize, pending.count - pendingOffset)
            pending.withUnsafeBufferPointer { b in out.update(from: b.baseAddress! + pendingOffset, count: n) }
            pendingOffset += n
            if pendingOffset == pending.count {
                pending = []
                pendingOffset = 0
            }
            return n
        }
        return try decode(into: out)
    }

    private mutating func decode(into out: UnsafeMutablePointer<UInt8>) throws(CSVError) -> Int {
        guard let staging else { return try raw.read(into: out, max: chunkSize) }
        if let highHalf {
            let n = try raw.read(into: staging, max: chunkSize)
            var o = 0
            highHalf.withUnsafeBufferPointer { table in
                for i in 0..<n {
                    let b = staging[i]
                    putUTF8(b < 0x80 ? UInt32(b) : UInt32(table[Int(b) - 0x80]), into: out, at: &o)
                }
            }
            return o
        }
        let bigEndian = encoding == .utf16BigEndian
        while true {
            let n = try raw.read(into: staging + carry, max: chunkSize)
            let total = carry + n
            if n == 0 {
                // End of input: whatever is left over cannot be decoded.
                if carry == 0 { return 0 }
                var o = 0
                var i = 0
                while i + 1 < total {
                    // A lone high surrogate (its partner never came).
                    out[o] = DecodedSource.invalidMarker
                    o += 1
                    i += 2
                }
                if i < total {
                    out[o] = DecodedSource.invalidMarker  // odd trailing byte
                    o += 1
                }
                carry = 0
                return o
            }
            var o = 0
            var i = 0
            while i + 1 < total {
                let u =
                    bigEndian
                    ? UInt32(staging[i]) << 8 | UInt32(staging[i + 1])
                    : UInt32(staging[i + 1]) << 8 | UInt32(staging[i])
                if u >= 0xD800 && u <= 0xDBFF {
                    if i + 3 >= total { break }  // partner not read yet: carry over
                    let l =
                        bigEndian
                        ? UInt32(staging[i + 2]) << 8 | UInt32(staging[i + 3])
                        : UInt32(staging[i + 3]) << 8 | UInt32(staging[i + 2])
                    if l >= 0xDC00 && l <= 0xDFFF {
                        let c = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00)
                        out[o] = UInt8(truncatingIfNeeded: 0xF0 | (c >> 18))
                        out[o + 1] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 12) & 0x3F))
                        out[o + 2] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F))
                        out[o + 3] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
                        o += 4
                        i += 4
                    } else {
                        out[o] = DecodedSource.invalidMarker
                        o += 1
                        i += 2
                    }
                } else if u >= 0xDC00 && u <= 0xDFFF {
                    out[o] = DecodedSource.invalidMarker
                    o += 1
                    i += 2
                } else {
                    putUTF8(u, into: out, at: &o)
                    i += 2
                }
            }
            carry = total - i
            if carry > 0 { memmove(staging, staging + i, carry) }
            if o > 0 { return o }
        }
    }
}

/// Writes a code point of the Basic Multilingual Plane (not a surrogate) as UTF-8 at `out[o]`
/// and advances `o` by 1 to 3.
@inline(__always)
private func putUTF8(_ u: UInt32, into out: UnsafeMutablePointer<UInt8>, at o: inout Int) {
    if u < 0x80 {
        out[o] = UInt8(truncatingIfNeeded: u)
        o += 1
    } else if u < 0x800 {
        out[o] = UInt8(truncatingIfNeeded: 0xC0 | (u >> 6))
        out[o + 1] = UInt8(truncatingIfNeeded: 0x80 | (u & 0x3F))
        o += 2
    } else {
        out[o] = UInt8(truncatingIfNeeded: 0xE0 | (u >> 12))
        out[o + 1] = UInt8(truncatingIfNeeded: 0x80 | ((u >> 6) & 0x3F))
        out[o + 2] = UInt8(truncatingIfNeeded: 0x80 | (u & 0x3F))
        o += 3
    }
}
