import PollcastCore

/// An encoded frame shared by every connection it is sent to (encoded once per tick).
final class EncodedFrame: Sendable {
    let bytes: [UInt8]
    let seq: UInt64

    init(bytes: [UInt8], seq: UInt64) {
        self.bytes = bytes
        self.seq = seq
    }
}

/// One WebSocket connection to a room. Lives on the service thread only: created in
/// `ESTABLISHED`, dropped in `CLOSED`, and touched by nothing else.
///
/// What it still has to send is kept so that a slow reader never builds a backlog:
/// a flag for the `state` frame (encoded when written, so it is current), a short
/// queue of replies to its own answers, and only the newest `results` frame.
final class WebSocketSession {
    let id: Int
    let wsi: OpaquePointer
    let room: String
    let role: ConnectionRole

    var participant: String?
    var name: String?
    /// Participants are told the room's state only after `hello` (it carries `mine`).
    var greeted: Bool

    var stateDue = false
    var replies: [[UInt8]] = []
    var results: EncodedFrame?
    var lastResultsSeq: UInt64 = 0
    /// Set when the connection must close once its replies are out: 1001 on a drain,
    /// 1008 when a participant never said hello.
    var closing: (status: UInt16, reason: String)?
    /// Whether lws has been asked to close (it finishes the close handshake itself).
    var closeRequested = false
    /// When the connection was established (service-loop clock, seconds).
    let openedAt: Double

    /// A message being reassembled from fragments.
    var incoming: [UInt8] = []
    var answerBudget: TokenBucket

    init(id: Int, wsi: OpaquePointer, room: String, role: ConnectionRole, budget: TokenBucket, openedAt: Double) {
        self.id = id
        self.openedAt = openedAt
        self.wsi = wsi
        self.room = room
        self.role = role
        self.greeted = role != .participant
        self.answerBudget = budget
    }

    /// Whether this connection gets the room's `results` frames.
    func receivesResults(showToParticipants: Bool) -> Bool {
        switch role {
        case .screen, .console: true
        case .participant: greeted && showToParticipants
        }
    }

    /// Keeps only the newest results frame; a frame the client already has is dropped.
    func offer(_ frame: EncodedFrame) {
        guard frame.seq > lastResultsSeq else { return }
        results = frame
    }

    var hasPendingWrite: Bool { stateDue || !replies.isEmpty || results != nil }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: Double

    init(rate: Double, burst: Double, now: Double) {
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now
    }

    mutating func take(now: Double) -> Bool {
        tokens = min(burst, tokens + (now - last) * rate)
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
