import PollcastCore

/// A presenter account as stored: the password only as a salted PBKDF2 hash.
public struct AccountRecord: Sendable, Equatable {
    public var username: String
    public var passwordHash: [UInt8]
    public var salt: [UInt8]
    public var iterations: Int
    public var createdAt: Double

    public init(username: String, passwordHash: [UInt8], salt: [UInt8], iterations: Int, createdAt: Double) {
        self.username = username
        self.passwordHash = passwordHash
        self.salt = salt
        self.iterations = iterations
        self.createdAt = createdAt
    }
}

/// A login session, found by the SHA-256 of its token (the token itself is never stored).
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: [UInt8]
    public var username: String
    public var csrfToken: String
    public var expiresAt: Double

    public init(tokenHash: [UInt8], username: String, csrfToken: String, expiresAt: Double) {
        self.tokenHash = tokenHash
        self.username = username
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// One answer as stored: the participant's current answer of a round.
public struct StoredAnswer: Sendable, Equatable {
    public var poll: String
    public var round: Int
    public var participant: String
    /// Screen name; stored only for identified polls.
    public var name: String?
    public var answer: String
    public var revision: Int
    public var time: Double
    /// Whether the poll lets a participant change their answer. A shared store decides
    /// with it (and with the poll's state as it commits); a store one process writes
    /// stores what that process decided.
    public var allowChange: Bool
    /// The poll's type as the node that took the answer saw it: a shared store refuses
    /// the answer if the poll is of another type now (an edit on another node).
    public var pollType: PollType?
    /// And its number of options (choice polls): refused if the poll has another now.
    public var optionCount: Int?
    /// A shared store's change number for the row, as read back (the order every node
    /// shows open responses in); nil from a store one process writes.
    public var changeNumber: Int?

    public init(
        poll: String,
        round: Int,
        participant: String,
        name: String?,
        answer: String,
        revision: Int,
        time: Double,
        allowChange: Bool = true,
        pollType: PollType? = nil,
        optionCount: Int? = nil
    ) {
        self.poll = poll
        self.round = round
        self.participant = participant
        self.name = name
        self.answer = answer
        self.revision = revision
        self.time = time
        self.allowChange = allowChange
        self.pollType = pollType
        self.optionCount = optionCount
    }

}

/// How durable a commit is before an answer is acked.
public enum Durability: String, Sendable, CaseIterable {
    /// `synchronous=FULL`: one fsync per group commit; an ack survives a power cut.
    case full
    /// `synchronous=NORMAL`: an ack survives the process being killed, but an operating
    /// system crash or power cut may lose the last commits. The operator's choice only.
    case fast
}

/// A store failure: the driver's code and its own sentence.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "store error \(code): \(message)" }

    /// The code of a save refused because the poll has answers (see
    /// `PollRepository.savePolls(_:requiringNoAnswers:)`).
    public static let hasAnswersCode: Int32 = 409
}
