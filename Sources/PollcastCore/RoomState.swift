/// The controls a presenter applies to a poll.
public enum PollCommand: String, Sendable, CaseIterable {
    case activate, deactivate, hide, show, lock, unlock, clear, reveal
}

/// One presenter's polls and the rules that bind them: at most one active poll,
/// `clear` opens a new round, the state flags move only through commands.
/// A value type with no I/O: the caller persists what `apply` returns, then publishes.
public struct RoomState: Sendable, Equatable {
    public let presenter: String
    public private(set) var polls: [String: Poll]
    /// The active poll's id, kept with every change: asked per answer and per tick, so
    /// it must not cost a scan of every poll the presenter ever made.
    private var activeID: String?

    public init(presenter: String, polls: [Poll] = []) {
        self.presenter = presenter
        self.polls = Dictionary(uniqueKeysWithValues: polls.map { ($0.id, $0) })
        // A store never holds two active polls (activate deactivates the others); were
        // it to, the newest one wins, the same one every time.
        activeID = polls.filter(\.state.active).max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }?.id
    }

    /// The poll participants can answer now.
    public var activePoll: Poll? { activeID.flatMap { polls[$0] } }

    /// What a command changed: every poll whose state moved (to persist), and whether
    /// what participants see of the room moved (to send `state` frames).
    public struct Transition: Sendable, Equatable {
        public var changed: [Poll]
        public var roomChanged: Bool
        public var newRound: Bool
    }

    /// Applies `command` to poll `id`. Repeating a command that is already in effect
    /// changes nothing and is not an error.
    public mutating func apply(_ command: PollCommand, to id: String) throws(PollcastError) -> Transition {
        guard var poll = polls[id] else { throw PollcastError(.notFound, "no such poll") }
        let shownBefore = activePoll
        var changed: [Poll] = []
        var newRound = false
        switch command {
        case .activate:
            if !poll.state.active {
                for var other in polls.values where other.state.active && other.id != id {
                    other.state.active = false
                    changed.append(other)
                }
                poll.state.active = true
            }
        case .deactivate: poll.state.active = false
        case .hide: poll.state.hidden = true
        case .show: poll.state.hidden = false
        case .lock: poll.state.locked = true
        case .unlock: poll.state.locked = false
        case .reveal: poll.state.revealed = true
        case .clear:
            poll.state.round += 1
            poll.state.revealed = false
            newRound = true
        }
        if poll != polls[id] { changed.append(poll) }
        for p in changed { polls[p.id] = p }
        if poll.state.active {
            activeID = id
        } else if activeID == id {
            activeID = nil
        }
        return Transition(changed: changed, roomChanged: activePoll != shownBefore, newRound: newRound)
    }

    /// Adds or replaces a poll (create, edit). A new poll is never active.
    public mutating func upsert(_ poll: Poll) {
        polls[poll.id] = poll
        if poll.state.active {
            activeID = poll.id
        } else if activeID == poll.id {
            activeID = nil
        }
    }

    public mutating func remove(_ id: String) -> Poll? {
        if activeID == id { activeID = nil }
        return polls.removeValue(forKey: id)
    }

    /// The presenter's polls, newest first.
    public var orderedPolls: [Poll] {
        polls.values.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }
}
