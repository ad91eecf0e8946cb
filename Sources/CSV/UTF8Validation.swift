/// The first problem found by ``firstInvalidUTF8(_:_:)``.
struct UTF8Problem {
    /// Offset of the offending byte.
    var offset: Int
    /// `true` for a NUL byte, `false` for an invalid UTF-8 sequence.
    var isNUL: Bool
}

/// Strict UTF-8 validation (no overlongs, no surrogates, nothing above U+10FFFF) that also
/// rejects NUL bytes. Returns `nil` when the bytes are valid.
func firstInvalidUTF8(_ p: UnsafePointer<UInt8>, _ n: Int) -> UTF8Problem? {
    var i = 0
    while i < n {
        #if _endian(little)
        // Fast path: 8 ASCII, non-NUL bytes at a time.
        while i &+ 8 <= n {
            let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            let zero = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if (x & 0x8080_8080_8080_8080) | zero != 0 { break }
            i &+= 8
        }
        if i >= n { break }
        #endif
        let b = p[i]
        if b < 0x80 {
            if b == 0 { return UTF8Problem(offset: i, isNUL: true) }
            i += 1
            continue
        }
        @inline(__always) func cont(_ k: Int) -> Bool {
            i + k < n && p[i + k] & 0xC0 == 0x80
        }
        if b < 0xC2 { return UTF8Problem(offset: i, isNUL: false) }
        if b < 0xE0 {
            guard cont(1) else { return UTF8Problem(offset: i, isNUL: false) }
            i += 2
        } else if b < 0xF0 {
            guard i + 1 < n else { return UTF8Problem(offset: i, isNUL: false) }
            let b1 = p[i + 1]
            let lo: UInt8 = b == 0xE0 ? 0xA0 : 0x80
            let hi: UInt8 = b == 0xED ? 0x9F : 0xBF
            guard b1 >= lo && b1 <= hi && cont(2) else { return UTF8Problem(offset: i, isNUL: false) }
            i += 3
        } else if b < 0xF5 {
            guard i + 1 < n else { return UTF8Problem(offset: i, isNUL: false) }
            let b1 = p[i + 1]
            let lo: UInt8 = b == 0xF0 ? 0x90 : 0x80
            let hi: UInt8 = b == 0xF4 ? 0x8F : 0xBF
            guard b1 >= lo && b1 <= hi && cont(2) && cont(3) else {
                return UTF8Problem(offset: i, isNUL: false)
            }
            i += 4
        } else {
            return UTF8Problem(offset: i, isNUL: false)
        }
    }
    return nil
}

/// Number of line breaks (CRLF, LF or lone CR each count once) in `p[0..<n]`.
func countLineBreaks(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
    var count = 0
    var i = 0
    while i < n {
        let b = p[i]
        if b == 0x0A {
            count += 1
        } else if b == 0x0D {
            count += 1
            if i + 1 < n && p[i + 1] == 0x0A { i += 1 }
        }
        i += 1
    }
    return count
}
