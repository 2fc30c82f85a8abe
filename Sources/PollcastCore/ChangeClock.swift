import Foundation
import Synchronization

/// A process-wide counter that stamps every change to any tally. Results frames carry
/// the stamp as `seq`, so it grows across rounds and polls, and a broadcaster knows a
/// tally changed when its stamp moved past the one it last sent.
///
/// It grows across restarts too: a server's clock starts at its boot time in
/// milliseconds times 1,024 and counts up from there, so the next boot starts above
/// every stamp of this one unless this one made more than 1,024 changes per
/// millisecond of its life (a thousand times the measured saturation) or the wall
/// clock went back between the two boots. Stamps stay below 2^53 (exact in a browser's
/// JSON numbers) until the year 2248.
public final class ChangeClock: Sendable {
    private let value: Atomic<UInt64>

    /// Stamps per millisecond of boot time: the room a boot leaves for the one before.
    public static let stampsPerMillisecond: UInt64 = 1024

    /// A clock that starts at `start` (tests); `ChangeClock.booted()` for a server.
    public init(start: UInt64 = 0) { value = Atomic(start) }

    /// A clock starting at this boot's epoch.
    public static func booted(now: Double = Date().timeIntervalSince1970) -> ChangeClock {
        ChangeClock(start: UInt64(max(0, now * 1000)) * stampsPerMillisecond)
    }

    /// A stamp greater than every earlier one.
    public func next() -> UInt64 { value.wrappingAdd(1, ordering: .relaxed).newValue }

    public var current: UInt64 { value.load(ordering: .relaxed) }
}
