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
/// a flag for the `state` frame (encoded when written, so it is current), a queue of
/// replies to its own frames bounded in bytes, and only the newest `results` frame.
final class WebSocketSession {
    let id: Int
    let wsi: OpaquePointer
    let room: String
    let role: ConnectionRole
    /// The peer's address: screens are limited per address; participants never (a
    /// classroom shares one NAT), and consoles need the presenter's session anyway.
    let address: String
    /// A console's session token (SHA-256): the socket closes when that session ends.
    let tokenHash: [UInt8]?

    var participant: String?
    var name: String?
    /// Participants are told the room's state only after `hello` (it carries `mine`).
    var greeted: Bool

    var stateDue = false
    var replies = ReplyQueue()
    var results: EncodedFrame?
    var lastResultsSeq: UInt64 = 0
    /// Set when the connection must close once its replies are out: 1001 on a drain,
    /// 1008 when a participant never said hello or a console's session ended.
    var closing: (status: UInt16, reason: String)?
    /// Whether lws has been asked to close (it finishes the close handshake itself).
    var closeRequested = false
    /// The client left more than the cap of replies unread: nothing more is queued or
    /// read, and the socket is dropped if even the close frame cannot be written.
    var overflowed = false
    /// When the connection was established (service-loop clock, seconds).
    let openedAt: Double

    /// A message being reassembled from fragments, and how many it came in so far.
    var incoming: [UInt8] = []
    var fragments = 0
    /// Every frame the client sends takes a token: a flood is answered `rate_limited`
    /// and, if the client does not read those answers either, closed at the reply cap.
    var frameBudget: TokenBucket
    /// Frames refused for the budget since the last one that was taken.
    var refusedInARow = 0

    init(
        id: Int,
        wsi: OpaquePointer,
        room: String,
        role: ConnectionRole,
        address: String,
        tokenHash: [UInt8]?,
        frameBudget: TokenBucket,
        openedAt: Double
    ) {
        self.id = id
        self.openedAt = openedAt
        self.wsi = wsi
        self.room = room
        self.role = role
        self.address = address
        self.tokenHash = tokenHash
        self.greeted = role != .participant
        self.frameBudget = frameBudget
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

/// Replies waiting to be written, oldest first, and how many bytes they hold (the
/// session's high-water mark is checked against it). Taking the first is O(1): a
/// read index moves, and the array is compacted only once half of it has been read.
struct ReplyQueue {
    private var frames: [[UInt8]] = []
    private var head = 0
    private(set) var bytes = 0

    var isEmpty: Bool { head == frames.count }

    mutating func append(_ frame: [UInt8]) {
        frames.append(frame)
        bytes += frame.count
    }

    mutating func popFirst() -> [UInt8]? {
        guard head < frames.count else { return nil }
        let frame = frames[head]
        frames[head] = []
        head += 1
        bytes -= frame.count
        if head == frames.count {
            frames.removeAll(keepingCapacity: frames.count <= 64)
            head = 0
        } else if head >= 64 && head * 2 >= frames.count {
            frames = Array(frames[head...])
            head = 0
        }
        return frame
    }

    mutating func removeAll() {
        frames = []
        head = 0
        bytes = 0
    }
}
