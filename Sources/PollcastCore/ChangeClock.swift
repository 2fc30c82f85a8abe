import Synchronization

/// A process-wide counter that stamps every change to any tally. Results frames carry
/// the stamp as `seq`, so it grows across rounds and polls, and a broadcaster knows a
/// tally changed when its stamp moved past the one it last sent.
public final class ChangeClock: Sendable {
    private let value = Atomic<UInt64>(0)

    public init() {}

    /// A stamp greater than every earlier one.
    public func next() -> UInt64 { value.wrappingAdd(1, ordering: .relaxed).newValue }

    public var current: UInt64 { value.load(ordering: .relaxed) }
}
