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
        // Unicode's table of well-formed sequences (Table 3-7): the lead byte gives the
        // length and the range of the second byte; the others are 80…BF.
        let length: Int
        let second: ClosedRange<UInt8>
        switch b {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xE1...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        default: return UTF8Problem(offset: i, isNUL: false)
        }
        guard i + length <= n, second.contains(p[i + 1]) else { return UTF8Problem(offset: i, isNUL: false) }
        for k in 2..<length where p[i + k] & 0xC0 != 0x80 {
            return UTF8Problem(offset: i, isNUL: false)
        }
        i += length
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
