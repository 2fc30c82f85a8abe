#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Time is passed
/// in (seconds on any monotonic clock), so rules stay testable.
public struct TokenBucket: Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: Double

    public init(rate: Double, burst: Double, now: Double) {
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: Double) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket has refilled completely by `now` (it then carries no history).
    public func isFull(now: Double) -> Bool {
        tokens + max(0, now - last) * rate >= burst
    }

    private mutating func refill(now: Double) {
        tokens = min(burst, tokens + max(0, now - last) * rate)
        last = max(last, now)
    }
}

/// One token bucket per key (a participant id), shared by every thread and path that
/// takes from it, so the same participant has one budget over WebSocket and HTTP.
///
/// Bounded: buckets that have refilled are forgotten (they hold no history), and if
/// `capacity` keys are still live after that, an arbitrary half is dropped (those
/// participants start again with a full bucket), so made-up keys cannot grow it
/// without limit.
public final class KeyedRateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    public let capacity: Int
    /// Guarded by itself.
    private let buckets = Locked<[String: TokenBucket]>([:])

    public init(rate: Double, burst: Double, capacity: Int = 100_000) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    public func take(_ key: String, now: Double) -> Bool {
        buckets.withLock { b in
            if b.count >= capacity { b = b.filter { !$0.value.isFull(now: now) } }
            if b.count >= capacity { b = Dictionary(uniqueKeysWithValues: b.prefix(capacity / 2).map { $0 }) }
            return b[key, default: TokenBucket(rate: rate, burst: burst, now: now)].take(now: now)
        }
    }

    /// How many keys hold a bucket now (for tests and metrics).
    public var count: Int { buckets.withLock { $0.count } }
}

/// Seconds on a clock that never goes back (for rate limits and timeouts).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
}
