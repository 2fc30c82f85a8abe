import PollcastApp
import PollcastCore

/// A WebSocket connection's life and what it still has to send. Events go in (a hello,
/// a reply, a results frame, a room change, a close) and `nextWrite()` says what the
/// next writeable callback writes; there is no I/O here, so the order of `state`,
/// replies, `results` and the close frame is checked by unit tests, not by reading an
/// if-chain over loose flags.
///
/// A slow reader never builds a backlog: `state` is a flag (encoded when written, so it
/// is current), replies are bounded in bytes, and only the newest results frame is kept.
struct ConnectionStateMachine {
    /// The close frame a connection ends with.
    struct Close: Equatable {
        var status: UInt16
        var reason: String
    }

    enum State: Equatable {
        /// Not greeted yet: replies (errors) only. Screens and consoles are greeted as
        /// they open; a participant at its first `hello`, since its state frame carries
        /// `mine` and cannot be sent before the participant is known.
        case joining
        /// `state` first, then replies in order, then the newest results.
        case open
        /// Ending: the replies already queued (acks) leave, then the close frame. No new
        /// state or results, and messages from the client are dropped unread.
        case closing(Close)
        /// Left more than the cap of replies unread: everything queued was dropped, and
        /// only the close frame is still tried. The client is not read any more.
        case overflowed(Close)
        /// The close frame is written; the next writeable hangs up.
        case closeSent
    }

    /// What the next writeable callback does.
    enum Write {
        /// Encode the room's `state` frame as it is now, and write it.
        case state
        case reply([UInt8])
        case results(EncodedFrame)
        case close(Close)
        /// Drop the socket (the close frame went out on the previous writeable).
        case hangUp
    }

    /// What became of a queued reply.
    enum Queued: Equatable {
        case queued
        /// The connection overflowed or sent its close frame: nothing more is queued.
        case ignored
        /// This reply took the unread replies past the cap: the connection now closes.
        case overflowed
    }

    let role: ConnectionRole
    private(set) var state: State
    private var stateDue = false
    private var replies = ReplyQueue()
    private var results: EncodedFrame?
    /// The seq of the last results frame written: an older or equal one is never sent.
    private(set) var lastResultsSeq: UInt64 = 0

    init(role: ConnectionRole) {
        self.role = role
        state = .joining
    }

    /// Whether messages from the client are still read and answered.
    var readsMessages: Bool {
        switch state {
        case .joining, .open: true
        case .closing, .overflowed, .closeSent: false
        }
    }

    /// Whether the client is past its reply cap (its socket is dropped on the next read).
    var isOverflowed: Bool {
        if case .overflowed = state { return true }
        return false
    }

    /// Whether a writeable callback has anything to do.
    var wantsWrite: Bool {
        switch state {
        case .joining: !replies.isEmpty
        case .open: stateDue || !replies.isEmpty || results != nil
        case .closing, .overflowed, .closeSent: true
        }
    }

    /// The connection joins its room: a screen or console as it opens, a participant at
    /// its first `hello`. Returns whether this was the greeting (its state is now due).
    mutating func greet() -> Bool {
        guard case .joining = state else { return false }
        state = .open
        stateDue = true
        return true
    }

    /// Offers the room's newest results. Returns whether it was taken (then a write is
    /// wanted): participants take results only when the poll shares them, and only
    /// after hello; an older or equal seq than the one written is never taken.
    /// Whether a results frame waits to be written (a newer one would replace it).
    var hasPendingResults: Bool { results != nil }

    mutating func offer(_ frame: EncodedFrame, showToParticipants: Bool) -> Bool {
        guard case .open = state, role != .participant || showToParticipants, frame.seq > lastResultsSeq else {
            return false
        }
        results = frame
        return true
    }

    /// What the room shows changed (another poll, hidden, locked...): no results frame
    /// made before the change may be written after it, and a greeted connection gets a
    /// new `state`. Returns whether a write is wanted.
    mutating func roomChanged() -> Bool {
        guard case .open = state else { return false }
        results = nil
        stateDue = true
        return true
    }

    /// Queues a reply to one of the client's frames (until the close frame is written).
    /// Past `limit` bytes of unread
    /// replies the connection is overflowed: its queue, results and state are dropped
    /// and it closes with 1008.
    mutating func queue(_ reply: [UInt8], limit: Int) -> Queued {
        switch state {
        // A closing connection still gets the acks of answers it sent before.
        case .joining, .open, .closing: break
        case .overflowed, .closeSent: return .ignored
        }
        replies.append(reply)
        guard replies.bytes > limit else { return .queued }
        replies.removeAll()
        results = nil
        stateDue = false
        // A connection already closing keeps the close it was given (1001 on a drain).
        if case .closing(let close) = state {
            state = .overflowed(close)
        } else {
            state = .overflowed(Close(status: 1008, reason: "too many unread replies"))
        }
        return .overflowed
    }

    /// Starts closing with `close` once the replies already queued are written. A
    /// pending state or results frame is dropped: a console whose session ended gets
    /// not one more result. Returns false if the connection was already closing.
    mutating func close(_ close: Close) -> Bool {
        switch state {
        case .joining, .open:
            results = nil
            stateDue = false
            state = .closing(close)
            return true
        case .closing, .overflowed, .closeSent:
            return false
        }
    }

    /// Takes what the next writeable callback writes, or nil when there is nothing.
    mutating func nextWrite() -> Write? {
        switch state {
        case .joining:
            return replies.popFirst().map(Write.reply)
        case .open:
            if stateDue {
                stateDue = false
                return .state
            }
            if let reply = replies.popFirst() { return .reply(reply) }
            guard let frame = results else { return nil }
            results = nil
            lastResultsSeq = frame.seq
            return .results(frame)
        case .closing(let close):
            if let reply = replies.popFirst() { return .reply(reply) }
            state = .closeSent
            return .close(close)
        case .overflowed(let close):
            state = .closeSent
            return .close(close)
        case .closeSent:
            return .hangUp
        }
    }
}
