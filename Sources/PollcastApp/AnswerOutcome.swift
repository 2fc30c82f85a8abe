import PollcastCore

/// Where an answer's outcome goes: a WebSocket session or a waiting HTTP request,
/// both named by the id the service loop gave them.
public enum ReplyTarget: Sendable, Hashable {
    case socket(Int)
    case http(Int)
    /// A text message's webhook request, answered with TwiML.
    case sms(Int)
}

/// The result of one answer after its commit.
public struct AnswerOutcome: Sendable {
    public var target: ReplyTarget
    public var ref: Int?
    public var reply: Result<AckFrame, PollcastError>
    /// For answers sent over HTTP: the answer to echo.
    public var mine: MineAnswer?
    /// What the answer did to the participant's answer (a text message says it).
    public var effect: AnswerEffect = .first
    /// When the answer arrived (`monotonicSeconds`), for the ack latency.
    public var received: Double = 0
}

/// What an acked answer changed.
public enum AnswerEffect: Sendable {
    /// The participant's first answer in this round.
    case first
    /// It replaced a different answer.
    case changed
    /// The same answer again (nothing changed).
    case unchanged
}
