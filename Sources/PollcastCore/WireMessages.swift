/// The WebSocket subprotocol every client names.
public let pollcastSubprotocol = "pollcast.v1"

/// The largest text frame a client may send.
public let maxClientFrameBytes = 4096

/// The three kinds of connection to a room.
public enum ConnectionRole: String, Sendable, CaseIterable {
    case participant, screen, console
}

/// A frame from a client, as decoded: fields that do not apply are nil. Decoding
/// failures and missing fields are reported by the server as `bad_request`.
public struct ClientFrame: Sendable, Decodable {
    public var type: String
    public var participant: String?
    public var name: String?
    public var ref: Int?
    public var poll: String?
    public var choices: [Int]?
    public var text: String?
    public var words: [String]?
}

/// `{"type":"state","poll":…,"mine":…}`: what the room shows now, and the receiver's own answer.
public struct StateFrame: Sendable, Encodable {
    public var poll: Poll?
    public var mine: MineAnswer?

    public init(poll: Poll?, mine: MineAnswer?) {
        self.poll = poll
        self.mine = mine
    }

    private enum Keys: String, CodingKey { case type, poll, mine }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode("state", forKey: .type)
        try c.encode(poll, forKey: .poll)
        try c.encode(mine, forKey: .mine)
    }
}

/// A participant's own answer as `state` frames and answer replies show it.
public struct MineAnswer: Sendable, Encodable, Equatable {
    public var poll: String
    public var round: Int
    public var answer: Answer

    public init(poll: String, round: Int, answer: Answer) {
        self.poll = poll
        self.round = round
        self.answer = answer
    }

    private enum Keys: String, CodingKey { case poll, round }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(poll, forKey: .poll)
        try c.encode(round, forKey: .round)
        try answer.encode(to: encoder)
    }
}

/// `{"type":"ack","ref":…,"poll":…,"round":…}`: the answer is durable.
public struct AckFrame: Sendable, Encodable, Equatable {
    public var type = "ack"
    public var ref: Int?
    public var poll: String
    public var round: Int

    public init(ref: Int?, poll: String, round: Int) {
        self.ref = ref
        self.poll = poll
        self.round = round
    }

    private enum Keys: String, CodingKey { case type, ref, poll, round }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(type, forKey: .type)
        try c.encode(ref, forKey: .ref)
        try c.encode(poll, forKey: .poll)
        try c.encode(round, forKey: .round)
    }
}

/// `{"type":"error","ref":…,"code":…,"message":…}`.
/// Also an `Error`, so decoding can hand back the frame to answer with.
public struct ErrorFrame: Error, Sendable, Encodable, Equatable {
    public var ref: Int?
    public var code: ErrorCode
    public var message: String

    public init(ref: Int?, error: PollcastError) {
        self.ref = ref
        self.code = error.code
        self.message = error.message
    }

    private enum Keys: String, CodingKey { case type, ref, code, message }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode("error", forKey: .type)
        try c.encode(ref, forKey: .ref)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
    }
}

/// Usernames: a presenter's room is `/{username}`.
public enum Username {
    public static let reserved: Set<String> = [
        "api", "ws", "static", "present", "admin", "login", "logout", "qr", "sms", "metrics", "healthz", "join",
    ]

    /// `[a-z0-9][a-z0-9_-]{2,31}` and not a reserved path.
    public static func isValid(_ name: String) -> Bool {
        let s = Array(name.utf8)
        guard (3...32).contains(s.count), !reserved.contains(name) else { return false }
        func lowerAlnum(_ c: UInt8) -> Bool { (97...122).contains(c) || (48...57).contains(c) }
        return lowerAlnum(s[0]) && s.dropFirst().allSatisfy { lowerAlnum($0) || $0 == 95 || $0 == 45 }
    }
}
