/// The identity of a person in a target, for duplicate detection: a 64-bit FNV-1a hash of the
/// target (platform, webinar, schedule, date) and the email lowercased (Unicode-aware). A
/// collision between two different people is checked for on insert (see `Importer`), so it
/// can never merge them.
enum PersonKey {
    static func of(_ target: Target, email: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        func mix(_ value: Int) {
            var v = UInt64(bitPattern: Int64(value))
            for _ in 0..<8 {
                mix(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
        }
        mix(target.platform == .webinarjam ? 1 : 2)
        mix(target.webinarID)
        mix(target.schedule)
        var date = target.date
        date.withUTF8 { for b in $0 { mix(b) } }
        mix(0)
        var lowered = email.isASCIIUppercaseFree ? email : email.lowercased()
        lowered.withUTF8 { for b in $0 { mix(b) } }
        return Int64(bitPattern: h)
    }
}

extension String {
    /// True when lowercasing would change nothing (fast path for the common all-lowercase email).
    var isASCIIUppercaseFree: Bool {
        for b in utf8 where (b >= 0x41 && b <= 0x5A) || b >= 0x80 { return false }
        return true
    }
}
