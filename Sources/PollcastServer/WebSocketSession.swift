import PollcastApp
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
/// `ESTABLISHED`, dropped in `CLOSED`, and touched by nothing else. What it still has
/// to send, and in which order, is its `life` (a state machine without I/O).
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
    var life: ConnectionStateMachine
    /// When the connection was established (service-loop clock, seconds).
    let openedAt: Double

    /// A message being reassembled from fragments, and how many it came in so far.
    var incoming: [UInt8] = []
    var fragments = 0
    /// Every frame the client sends takes a token: a flood is answered `rate_limited`
    /// and, if the client does not read those answers either, closed at the reply cap.
    var frameBudget: TokenBucket
    /// Each refused frame takes from this (ten bursts, refilled at the frame rate); when it
    /// is empty the connection is closed. A client a little over the rate is only slowed; a
    /// flood is closed however long the server takes to read it (one frame taken in
    /// between does not forgive it, as a counter of refusals "in a row" would).
    var patience: TokenBucket

    init(
        id: Int,
        wsi: OpaquePointer,
        room: String,
        role: ConnectionRole,
        address: String,
        tokenHash: [UInt8]?,
        frameBudget: TokenBucket,
        patience: TokenBucket,
        openedAt: Double
    ) {
        self.id = id
        self.openedAt = openedAt
        self.wsi = wsi
        self.room = room
        self.role = role
        self.address = address
        self.tokenHash = tokenHash
        self.patience = patience
        self.life = ConnectionStateMachine(role: role)
        self.frameBudget = frameBudget
    }
}
