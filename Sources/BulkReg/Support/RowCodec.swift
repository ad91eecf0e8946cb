/// Packs a row of strings into one BLOB and back: a LEB128 length, then the UTF-8 bytes, per
/// field. Lossless for any content (commas, quotes, newlines, NULs), and cheaper to write and
/// read than JSON.
package enum RowCodec {
    /// Encodes `fields`.
    package static func encode(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count + 2 })
        append(fields, to: &out)
        return out
    }

    /// Appends the encoding of `fields` to `out`.
    package static func append(_ fields: [String], to out: inout [UInt8]) {
        for field in fields {
            var count = field.utf8.count
            while count >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: count) | 0x80)
                count >>= 7
            }
            out.append(UInt8(count))
            var f = field
            f.withUTF8 { out.append(contentsOf: $0) }
        }
    }

    /// Decodes bytes written by `encode`; a truncated blob yields the fields read so far.
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var fields: [String] = []
        forEachField(bytes) { fields.append(String(decoding: $0, as: UTF8.self)) }
        return fields
    }

    /// Calls `body` with each field's bytes (slices of `bytes`, no copy), in order; a truncated
    /// blob yields the fields read so far.
    @inline(__always)
    package static func forEachField(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        var i = 0
        let n = bytes.count
        while i < n {
            var count = 0
            var shift = 0
            while i < n {
                let b = bytes[i]
                i += 1
                count |= Int(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            let end = min(i + count, n)
            try body(UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
            i = end
        }
    }

    /// Decodes an array (tests, small blobs).
    package static func decode(_ bytes: [UInt8]) -> [String] {
        bytes.withUnsafeBytes { decode($0) }
    }
}
