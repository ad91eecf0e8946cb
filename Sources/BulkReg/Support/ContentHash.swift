#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast 128-bit fingerprint of a file's bytes, to recognise a file imported before.
///
/// Not cryptographic: it guards against re-importing the same export by mistake, not against
/// an adversary crafting collisions (who could only make bulkreg skip their own file).
package struct ContentHash: Sendable, Equatable {
    package var hex: String
    package var byteCount: Int

    /// Hashes the file at `path`, 1 MiB at a time.
    package static func of(path: String) throws -> ContentHash {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BulkRegError(.input, "\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var hasher = Hasher128()
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw BulkRegError(.input, "\(path): read error: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += n
        }
        return ContentHash(hex: hasher.finalize(), byteCount: total)
    }

    /// Hashes bytes in memory.
    package static func of(bytes: [UInt8]) -> ContentHash {
        var hasher = Hasher128()
        bytes.withUnsafeBytes { hasher.update($0) }
        return ContentHash(hex: hasher.finalize(), byteCount: bytes.count)
    }
}

/// Two independent 64-bit multiply-xorshift lanes over 8-byte words (tail buffered across
/// calls so chunking does not change the result).
struct Hasher128 {
    private var a: UInt64 = 0x243F_6A88_85A3_08D3
    private var b: UInt64 = 0x1319_8A2E_0370_7344
    private var tail: [UInt8] = []
    private var length: UInt64 = 0

    @inline(__always) private mutating func mix(_ word: UInt64) {
        a = (a ^ word) &* 0x9E37_79B9_7F4A_7C15
        a ^= a >> 29
        b = (b &+ word) &* 0xC2B2_AE3D_27D4_EB4F
        b ^= b >> 31
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var i = 0
        if !tail.isEmpty {
            while tail.count < 8 && i < bytes.count {
                tail.append(bytes[i])
                i += 1
            }
            if tail.count == 8 {
                mix(tail.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
                tail.removeAll(keepingCapacity: true)
            }
        }
        while i + 8 <= bytes.count {
            mix(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < bytes.count {
            tail.append(bytes[i])
            i += 1
        }
    }

    mutating func finalize() -> String {
        var last: UInt64 = 0
        for (i, byte) in tail.enumerated() { last |= UInt64(byte) << (8 * UInt64(i)) }
        mix(last ^ (length << 3))
        mix(length)
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(a) + hex(b)
    }
}
