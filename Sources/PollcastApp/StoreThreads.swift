import Foundation

/// Threads that must never wait for a store (the lws service thread: a slow commit
/// there would stall every connection). Every store checks `assertAllowed()` on each
/// call; in debug builds, and so in every test, a call from a forbidden thread traps.
public enum StoreThreads {
    private static let forbiddenKey = "pollcast.store-forbidden"

    /// Marks the calling thread as one that must never call a store.
    public static func forbidCurrentThread() {
        Thread.current.threadDictionary[forbiddenKey] = true
    }

    /// Whether the calling thread may call a store.
    public static var isAllowed: Bool { Thread.current.threadDictionary[forbiddenKey] == nil }

    public static func assertAllowed() {
        assert(Thread.current.threadDictionary[forbiddenKey] == nil, "the store was called from the service thread")
    }
}
