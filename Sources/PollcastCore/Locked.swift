#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex; the value is reachable only inside `withLock`.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on raw futex calls that
/// ThreadSanitizer cannot see, so every access made under it is reported as a race
/// (a four-thread `concurrentPerform` appending to a `Mutex<[Int]>` is flagged, the
/// same code under a pthread mutex is not). pthread mutexes are intercepted by TSan,
/// which keeps `swift test --sanitize=thread` able to find real races in the core.
///
/// `@unchecked Sendable` is sound for the same reason as `Mutex`'s: `value` is read
/// and written only between `pthread_mutex_lock` and `pthread_mutex_unlock`.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock. Do not call back into the same lock.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
