import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One budget of call starts for every process on the machine that uses one API key: a
/// sliding-window log of reserved starts, the key's 429 pause and its AIMD rate, and the
/// processes drawing from it, in a small file that every process maps and changes under an
/// exclusive `flock`.
///
/// - **Time** is `CLOCK_BOOTTIME` in nanoseconds (every process agrees on it, and a wall-clock
///   step cannot move it); the file carries the boot id, and a log from before a reboot is
///   dropped when the file is opened.
/// - **Fair:** a reservation is placed after every reservation already made, so processes get
///   slots in the order they ask. A ``RateLimiter`` asks for one slot at a time (its queue's
///   head), so two saturated processes alternate.
/// - **Crash-safe:** the kernel releases the `flock` of a process however it dies; what it
///   leaves are timestamps, which age out of the window, and a participant entry, which stops
///   counting once its pid is gone.
/// - **The key's rate** is the smallest `rate` among the live participants.
/// - **Cost:** a reservation is a `flock`, some loads and stores in the mapped page, and an
///   unlock (microseconds; `scripts/bench --part shared` measures it under contention).
///
/// The file holds no secret: its name is chosen by the caller (a hash of the key) and its
/// content is instants, counters, process ids and the labels the processes gave.
public final class SharedBudget: Sendable {
    /// A slot reserved in the log, in the budget's nanoseconds.
    public struct Reservation: Sendable, Hashable {
        /// The reserved start instant.
        public var slot: Int64
        /// The pause generation the slot was reserved under (a later 429 voids a slot inside it).
        var epoch: Int64
    }

    /// A process drawing from the budget.
    public struct Participant: Sendable, Hashable {
        public var pid: Int32
        /// The `rate` it asked for.
        public var rate: Int
        /// What it said it is (a database path, a command name).
        public var label: String
        /// When it last reserved or said it is alive (budget nanoseconds).
        public var lastSeen: Int64
    }

    /// This process's view of its reservations.
    public struct Statistics: Sendable, Hashable {
        /// Reservations made by this process.
        public var reservations: Int
        /// Time spent taking the lock and updating the file per reservation (ns): p50, p99, max.
        public var costP50: Int64
        public var costP99: Int64
        public var costMax: Int64
        /// How far after the request its slot was (ns): p50 and p99 of the recent ones.
        public var waitP50: Int64
        public var waitP99: Int64
    }

    /// An error opening the file.
    public struct OpenError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The most starts per window the log can hold (`--rate` above it is not shared).
    public static let capacity = 10_000
    static let participantSlots = 32
    static let labelBytes = 216
    static let liveWindow: Int64 = 10_000_000_000

    public let path: String
    private let fd: Int32
    private let map: Mapping
    private let participantIndex: Int?
    private let pid: Int32
    private let rate: Int
    private let parameters: Parameters
    private let local: Mutex<Local>

    struct Parameters: Sendable {
        var span: Int64
        var evenSpacing: Bool
        var pause: Int64
        var pauseJitter: Int64
        var decreaseFactor: Double
        var minimumRate: Int
        var increaseStep: Int
        var increaseInterval: Int64
        var repeatInterval: Int64
    }

    struct Local {
        var random: SplitMix64
        var reservations = 0
        var costs = Samples()
        var waits = Samples()
    }

    /// A ring of recent samples for percentiles.
    struct Samples {
        var values: [Int64] = []
        var next = 0
        var maximum: Int64 = 0

        mutating func add(_ v: Int64) {
            maximum = max(maximum, v)
            if values.count < 4096 {
                values.append(v)
            } else {
                values[next] = v
                next = (next + 1) % 4096
            }
        }

        func quantile(_ q: Double) -> Int64 {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded(.up)))]
        }
    }

    /// The mapped file. The pointer is only used under `local`'s lock and the file's `flock`.
    struct Mapping: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let size: Int

        func word(_ index: Int) -> Int64 { base.load(fromByteOffset: index * 8, as: Int64.self) }
        func set(_ index: Int, _ value: Int64) { base.storeBytes(of: value, toByteOffset: index * 8, as: Int64.self) }
    }

    // The layout, in 8-byte words.
    enum Word {
        static let magic = 0, version = 1, boot = 2  // boot id: words 2...7 (48 bytes)
        static let capacity = 8, count = 9, pauseUntil = 10, lastEpisode = 11, baseRate = 12
        static let recoveryStart = 13, epoch = 14, keyRate = 15, keyRateAt = 16
        static let signals = 17, pauses = 18, decreases = 19
        static let participants = 64  // 32 × 32 words
        static let participantWords = 32
        static let log = participants + participantSlots * participantWords
    }

    static let magic: Int64 = 0x3147_4455_4247_5242  // "BRGBUDG1"
    static let version: Int64 = 1
    static let none = Int64.min
    static var fileSize: Int { (Word.log + capacity) * 8 }

    /// Opens (creating it with mode 0600 if needed) the budget file at `path` and joins it.
    ///
    /// - Parameters:
    ///   - bootID: the current boot's id; a file written under another boot starts afresh.
    ///   - now: the current time in the budget's nanoseconds.
    ///   - rate: this process's `rate`; the key's rate is the smallest among the participants.
    ///   - label: what other processes see of this one (a database path, a command name).
    public init(
        path: String,
        bootID: String,
        now: Int64,
        configuration: RateLimiterConfiguration,
        label: String,
        pid: Int32 = getpid(),
        random: SplitMix64 = SplitMix64(seed: UInt64.random(in: 1...UInt64.max))
    ) throws {
        configuration.validate()
        guard let rate = configuration.rate, rate <= Self.capacity else {
            throw OpenError(description: "\(path): a shared budget needs a rate between 1 and \(Self.capacity)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw OpenError(description: "\(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OpenError(description: "\(path): cannot lock: \(reason)")
        }
        defer { flock(fd, LOCK_UN) }
        // Read under the lock: another process may be creating the file this instant.
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw OpenError(description: "\(path): not a regular file")
        }
        if info.st_mode & 0o077 != 0 { _ = fchmod(fd, 0o600) }
        let size = Self.fileSize
        if Int(info.st_size) != size {
            guard ftruncate(fd, 0) == 0, ftruncate(fd, off_t(size)) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw OpenError(description: "\(path): cannot size the file: \(reason)")
            }
        }
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OpenError(description: "\(path): cannot map the file: \(reason)")
        }
        let map = Mapping(base: base, size: size)
        let boot = Self.bootWords(bootID)
        var fresh =
            map.word(Word.magic) != Self.magic || map.word(Word.version) != Self.version
            || map.word(Word.capacity) != Int64(Self.capacity)
        for i in 0..<6 where map.word(Word.boot + i) != boot[i] { fresh = true }
        if fresh {
            memset(base, 0, size)
            map.set(Word.magic, Self.magic)
            map.set(Word.version, Self.version)
            for i in 0..<6 { map.set(Word.boot + i, boot[i]) }
            map.set(Word.capacity, Int64(Self.capacity))
            for w in [Word.pauseUntil, Word.lastEpisode, Word.recoveryStart, Word.keyRateAt] {
                map.set(w, Self.none)
            }
        }
        // Join: this pid's old entry, else a free one, else one whose process is gone.
        let slots = (0..<Self.participantSlots).map { Word.participants + $0 * Word.participantWords }
        let own = slots.firstIndex(where: { map.word($0) == Int64(pid) })
        let free = slots.firstIndex(where: { map.word($0) == 0 })
        let gone = slots.firstIndex(where: { !Self.isLive(pid: map.word($0), lastSeen: map.word($0 + 1), now: now) })
        let index: Int? = own ?? free ?? gone
        if let index {
            let w = Word.participants + index * Word.participantWords
            map.set(w, Int64(pid))
            map.set(w + 1, now)
            map.set(w + 2, Int64(rate))
            map.set(w + 3, now)
            let bytes = Array(label.utf8.prefix(Self.labelBytes))
            map.set(w + 4, Int64(bytes.count))
            let labelStart = map.base + (w + 5) * 8
            memset(labelStart, 0, Self.labelBytes)
            bytes.withUnsafeBytes { labelStart.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            map.set(Word.keyRateAt, Self.none)
        }
        self.path = path
        self.fd = fd
        self.map = map
        self.participantIndex = index
        self.pid = pid
        self.rate = rate
        self.parameters = Parameters(
            span: (configuration.window + configuration.margin).nanoseconds,
            evenSpacing: configuration.evenSpacing,
            pause: configuration.pause.nanoseconds,
            pauseJitter: configuration.pauseJitter.nanoseconds,
            decreaseFactor: configuration.decreaseFactor,
            minimumRate: configuration.minimumRate,
            increaseStep: configuration.increaseStep,
            increaseInterval: configuration.increaseInterval.nanoseconds,
            repeatInterval: configuration.repeatInterval.nanoseconds
        )
        self.local = Mutex(Local(random: random))
    }

    deinit {
        local.withLock { _ in
            flock(fd, LOCK_EX)
            if let participantIndex {
                let w = Word.participants + participantIndex * Word.participantWords
                if map.word(w) == Int64(pid) {
                    map.set(w, 0)
                    map.set(Word.keyRateAt, Self.none)
                }
            }
            flock(fd, LOCK_UN)
        }
        munmap(map.base, map.size)
        close(fd)
    }

    /// Runs `body` on the file under this process's lock and the file's `flock`.
    private func locked<T>(_ body: (inout Local, View) -> T) -> T {
        local.withLock { local in
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            defer { flock(fd, LOCK_UN) }
            return body(&local, View(map: map, parameters: parameters, ownRate: rate))
        }
    }

    /// Reserves the first start at or after `notBefore` (and after every reservation already
    /// made) that keeps every window of the key within its rate, and records it.
    public func reserve(notBefore: Int64, now: Int64) -> Reservation {
        let began = Self.nanos(CLOCK_MONOTONIC)
        return locked { local, view in
            view.touch(participantIndex, now: now)
            view.refreshKeyRate(now: now)
            let slot = view.nextStart(max(notBefore, now))
            view.append(slot)
            local.reservations += 1
            local.costs.add(Self.nanos(CLOCK_MONOTONIC) - began)
            local.waits.add(max(0, slot - now))
            return Reservation(slot: slot, epoch: view.map.word(Word.epoch))
        }
    }

    /// Whether `reservation` still stands: no 429 since it was made has paused past its slot.
    public func isValid(_ reservation: Reservation) -> Bool {
        locked { _, view in
            view.map.word(Word.epoch) == reservation.epoch || reservation.slot >= view.map.word(Word.pauseUntil)
        }
    }

    /// Moves the start reserved at `slot` to `instant` (later), keeping the log in order.
    public func delay(_ slot: Int64, to instant: Int64) {
        guard instant > slot else { return }
        locked { _, view in view.move(slot, to: instant) }
    }

    /// Reports a 429 to every process on the key: pauses the budget and applies the AIMD rule
    /// (see ``RateLimiterConfiguration``). Returns the end of the pause.
    @discardableResult
    public func rateLimited(now: Int64) -> Int64 {
        locked { local, view in
            let jitter =
                parameters.pauseJitter > 0 ? Int64.random(in: 0...parameters.pauseJitter, using: &local.random) : 0
            return view.rateLimited(now: now, jitter: jitter)
        }
    }

    /// Says this process is alive (it may not reserve for a while).
    public func touch(now: Int64) {
        locked { _, view in view.touch(participantIndex, now: now) }
    }

    /// The processes drawing from the budget now (this one included).
    public func participants(now: Int64) -> [Participant] {
        locked { _, view in view.participants(now: now) }
    }

    /// The key's effective rate now (the smallest participant rate, after any AIMD cut).
    public func effectiveRate(now: Int64) -> Int {
        locked { _, view in
            view.refreshKeyRate(now: now)
            return view.effectiveRate(at: now)
        }
    }

    /// The end of the key's 429 pause, if one is in effect at `now`.
    public func pausedUntil(now: Int64) -> Int64? {
        locked { _, view in
            let p = view.map.word(Word.pauseUntil)
            return p != Self.none && p > now ? p : nil
        }
    }

    /// The reserved starts in `from..<to` (for tests and the bench).
    public func starts(from: Int64, to: Int64) -> [Int64] {
        locked { _, view in view.entries().filter { $0 >= from && $0 < to } }
    }

    /// This process's reservation figures.
    public var statistics: Statistics {
        local.withLock { local in
            Statistics(
                reservations: local.reservations,
                costP50: local.costs.quantile(0.5),
                costP99: local.costs.quantile(0.99),
                costMax: local.costs.maximum,
                waitP50: local.waits.quantile(0.5),
                waitP99: local.waits.quantile(0.99)
            )
        }
    }

    // MARK: Reading a budget file without joining it (status)

    /// The live participants of the budget file at `path`, read without joining it; nil when it
    /// is not a budget file of this boot.
    public static func peek(path: String, bootID: String, now: Int64) -> [Participant]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: Word.log * 8)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == buffer.count else { return nil }
        return buffer.withUnsafeMutableBytes { raw -> [Participant]? in
            let map = Mapping(base: raw.baseAddress!, size: raw.count)
            guard map.word(Word.magic) == magic, map.word(Word.version) == version else { return nil }
            let boot = bootWords(bootID)
            for i in 0..<6 where map.word(Word.boot + i) != boot[i] { return nil }
            return View.participants(map: map, now: now)
        }
    }

    // MARK: Time

    /// `CLOCK_BOOTTIME` now, in nanoseconds: the budget's time.
    public static func bootTimeNow() -> Int64 {
        #if os(Linux)
        nanos(CLOCK_BOOTTIME)
        #else
        nanos(CLOCK_MONOTONIC)
        #endif
    }

    /// This boot's id (`/proc/sys/kernel/random/boot_id`), or "" where there is none.
    public static func currentBootID() -> String {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, 64)
        guard n > 0 else { return "" }
        return String(decoding: buffer[0..<n], as: UTF8.self).filter { !$0.isWhitespace }
    }

    /// `clock` now, in nanoseconds.
    static func nanos(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    static func bootWords(_ id: String) -> [Int64] {
        var bytes = Array(id.utf8.prefix(48))
        bytes += [UInt8](repeating: 0, count: 48 - bytes.count)
        return (0..<6).map { i in
            var w: Int64 = 0
            for j in 0..<8 { w |= Int64(bytes[i * 8 + j]) << (8 * j) }
            return w
        }
    }

    static func isLive(pid: Int64, lastSeen: Int64, now: Int64) -> Bool {
        guard pid > 0, now - lastSeen <= liveWindow else { return false }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }
}

/// The budget's rules over the mapped words (the same rules as ``RateLimiter``'s own log,
/// in nanoseconds).
private struct View {
    typealias Word = SharedBudget.Word
    let map: SharedBudget.Mapping
    let parameters: SharedBudget.Parameters
    let ownRate: Int

    var capacity: Int { SharedBudget.capacity }
    var count: Int64 { map.word(Word.count) }
    var keyRate: Int { max(1, Int(map.word(Word.keyRate))) }

    /// Position `i` (0 = the first entry ever) in the ring.
    func slot(_ i: Int64) -> Int { Word.log + Int(i % Int64(capacity)) }

    /// The `k`-th most recent reservation (k ≥ 1), if held.
    func recent(_ k: Int) -> Int64? {
        let n = count
        guard k >= 1, Int64(k) <= n, k <= capacity else { return nil }
        return map.word(slot(n - Int64(k)))
    }

    func entries() -> [Int64] {
        let n = count
        let held = min(n, Int64(capacity))
        return (0..<held).map { map.word(slot(n - held + $0)) }
    }

    func append(_ instant: Int64) {
        let n = count
        map.set(slot(n), instant)
        map.set(Word.count, n + 1)
    }

    /// Moves the entry equal to `from` to `to`, bubbling it past the later entries it now
    /// follows (the log stays in order).
    func move(_ from: Int64, to: Int64) {
        let n = count
        let held = min(n, Int64(capacity))
        var i = n - 1
        let lowest = n - held
        while i >= lowest && map.word(slot(i)) != from {
            if n - i > 4096 { return }
            i -= 1
        }
        guard i >= lowest else { return }
        while i + 1 < n && map.word(slot(i + 1)) < to {
            map.set(slot(i), map.word(slot(i + 1)))
            i += 1
        }
        map.set(slot(i), to)
    }

    func touch(_ index: Int?, now: Int64) {
        guard let index else { return }
        let w = Word.participants + index * Word.participantWords
        if map.word(w + 1) < now { map.set(w + 1, now) }
    }

    /// Recomputes the key's rate (smallest live participant rate) at most once a second.
    func refreshKeyRate(now: Int64) {
        let at = map.word(Word.keyRateAt)
        guard at == SharedBudget.none || now - at > 1_000_000_000 || now < at else { return }
        var rate = ownRate
        for p in View.participants(map: map, now: now) { rate = min(rate, p.rate) }
        map.set(Word.keyRate, Int64(max(1, rate)))
        map.set(Word.keyRateAt, now)
    }

    func participants(now: Int64) -> [SharedBudget.Participant] { View.participants(map: map, now: now) }

    static func participants(map: SharedBudget.Mapping, now: Int64) -> [SharedBudget.Participant] {
        var out: [SharedBudget.Participant] = []
        for i in 0..<SharedBudget.participantSlots {
            let w = Word.participants + i * Word.participantWords
            let pid = map.word(w)
            guard pid != 0, SharedBudget.isLive(pid: pid, lastSeen: map.word(w + 1), now: now) else { continue }
            let length = max(0, min(Int(map.word(w + 4)), SharedBudget.labelBytes))
            let label = String(
                decoding: UnsafeRawBufferPointer(start: map.base + (w + 5) * 8, count: length),
                as: UTF8.self
            )
            out.append(.init(pid: Int32(pid), rate: Int(map.word(w + 2)), label: label, lastSeen: map.word(w + 1)))
        }
        return out
    }

    // MARK: AIMD (as RateLimiter.State)

    func effectiveRate(at t: Int64) -> Int {
        let rate = keyRate
        let base = Int(map.word(Word.baseRate))
        guard base > 0, base < rate else { return rate }
        let start = map.word(Word.recoveryStart)
        guard start != SharedBudget.none, t >= start else { return base }
        let steps = (t - start) / parameters.increaseInterval
        let needed = Int64((rate - base + parameters.increaseStep - 1) / parameters.increaseStep)
        if steps >= needed { return rate }
        return min(rate, base + Int(steps) * parameters.increaseStep)
    }

    func nextIncrease(after t: Int64) -> Int64? {
        let start = map.word(Word.recoveryStart)
        guard start != SharedBudget.none, effectiveRate(at: t) < keyRate else { return nil }
        guard t >= start else { return start + parameters.increaseInterval }
        let steps = (t - start) / parameters.increaseInterval
        return start + parameters.increaseInterval * (steps + 1)
    }

    func nextStart(_ now: Int64) -> Int64 {
        var t = now
        let pause = map.word(Word.pauseUntil)
        if pause != SharedBudget.none && pause > t { t = pause }
        var candidate: Int64
        while true {
            let k = effectiveRate(at: t)
            candidate = t
            if let oldest = recent(k) { candidate = max(candidate, oldest + parameters.span) }
            if parameters.evenSpacing, let latest = recent(1) {
                candidate = max(candidate, latest + parameters.span / Int64(k))
            }
            guard let step = nextIncrease(after: t), step <= candidate else { break }
            t = step
        }
        // Request order: never before a reservation already made.
        if let latest = recent(1), latest > candidate { candidate = latest }
        return candidate
    }

    func rateLimited(now: Int64, jitter: Int64) -> Int64 {
        map.set(Word.signals, map.word(Word.signals) + 1)
        let until = now + parameters.pause + jitter
        let pause = map.word(Word.pauseUntil)
        let inPause = pause != SharedBudget.none && now < pause
        let current = effectiveRate(at: now)
        var newRate = current
        if !inPause {
            map.set(Word.pauses, map.word(Word.pauses) + 1)
            let last = map.word(Word.lastEpisode)
            let isRepeat = last != SharedBudget.none && now - last <= parameters.repeatInterval
            if isRepeat || current < keyRate {
                newRate = max(parameters.minimumRate, Int((Double(current) * parameters.decreaseFactor).rounded(.down)))
                map.set(Word.decreases, map.word(Word.decreases) + 1)
            }
            map.set(Word.lastEpisode, now)
        }
        let end = pause != SharedBudget.none && pause > until ? pause : until
        map.set(Word.pauseUntil, end)
        map.set(Word.epoch, map.word(Word.epoch) + 1)
        map.set(Word.baseRate, newRate >= keyRate ? 0 : Int64(newRate))
        map.set(Word.recoveryStart, end)
        return end
    }
}

/// A ``SharedBudget`` seen through a limiter's clock: instants converted to and from the
/// budget's nanoseconds.
public struct SharedStarts<C: Clock>: Sendable where C.Duration == Duration {
    public let budget: SharedBudget
    let toNanos: @Sendable (C.Instant) -> Int64
    let fromNanos: @Sendable (Int64) -> C.Instant

    public init(
        budget: SharedBudget,
        toNanos: @escaping @Sendable (C.Instant) -> Int64,
        fromNanos: @escaping @Sendable (Int64) -> C.Instant
    ) {
        self.budget = budget
        self.toNanos = toNanos
        self.fromNanos = fromNanos
    }

    public func nanos(_ instant: C.Instant) -> Int64 { toNanos(instant) }
    public func instant(_ nanos: Int64) -> C.Instant { fromNanos(nanos) }
}

extension SharedStarts where C == ContinuousClock {
    /// The production mapping: `ContinuousClock` anchored to `CLOCK_BOOTTIME` once.
    public init(budget: SharedBudget) {
        let anchor = ContinuousClock.now
        let anchorNanos = SharedBudget.bootTimeNow()
        self.init(
            budget: budget,
            toNanos: { anchorNanos + anchor.duration(to: $0).nanoseconds },
            fromNanos: { anchor.advanced(by: .nanoseconds($0 - anchorNanos)) }
        )
    }
}
