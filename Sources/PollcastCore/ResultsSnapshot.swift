/// The results of one poll round at one moment: what a `results` frame carries.
public struct ResultsSnapshot: Sendable, Equatable {
    public static let topWords = 50
    /// Open polls: results carry the newest responses only (exports have them all): at
    /// most 100, and only as many as fit `responsesBudget` bytes of JSON, so a frame can
    /// always be sent whatever the texts hold (emoji, combining marks, quotes to escape).
    public static let newestResponses = 100
    public static let responsesBudget = 64 * 1024
    /// The owner's list of hidden texts, bounded the same way.
    public static let moderatedBudget = 32 * 1024
    /// Every results frame encodes to at most this many bytes: the budgets above plus
    /// the fixed fields, and 50 words of at most 160 bytes each. The send path relies on it.
    public static let maxFrameBytes = 112 * 1024

    /// The leading strings of `texts` whose JSON takes at most `budget` bytes.
    public static func fitting(_ texts: [String], within budget: Int) -> [String] {
        var left = budget
        var kept: [String] = []
        for t in texts {
            left -= JSONSize.of(t) + 1
            if left < 0 { break }
            kept.append(t)
        }
        return kept
    }

    public struct WordCount: Sendable, Equatable {
        public var word: String
        public var count: Int

        public init(word: String, count: Int) {
            self.word = word
            self.count = count
        }
    }

    public enum Content: Sendable, Equatable {
        case counts([Int])
        case words([WordCount])
        case responses([String])
    }

    public var pollID: String
    public var round: Int
    /// Change stamp: grows with every change anywhere; clients drop a lower one.
    public var seq: UInt64
    public var total: Int
    public var content: Content
    /// Open polls: the texts hidden by the presenter (shown to the owner only).
    public var moderated: [String]
    /// Pre/post: the first round's counts, sent beside the current ones while the
    /// presenter compares rounds (choice polls from round 2).
    public var baseline: RoundCounts?

    /// One round's per-option counts and its number of respondents.
    public struct RoundCounts: Sendable, Equatable, Encodable {
        public var round: Int
        public var counts: [Int]
        public var total: Int

        public init(round: Int, counts: [Int], total: Int) {
            self.round = round
            self.counts = counts
            self.total = total
        }
    }

    public init(pollID: String, round: Int, seq: UInt64, total: Int, content: Content, moderated: [String] = []) {
        self.pollID = pollID
        self.round = round
        self.seq = seq
        self.total = total
        self.content = content
        self.moderated = moderated
    }

    /// The frame for someone who may see this poll's results, or (when `hidden` and
    /// not the owner's console) the frame with no per-option count, word or text.
    public func frame(hidden: Bool, fullView: Bool) -> ResultsFrame {
        ResultsFrame(snapshot: self, hidden: hidden, withContent: fullView || !hidden, ownerView: fullView)
    }
}

/// The `results` wire frame. Hide-chart filtering happens here, at encoding: a frame
/// built with `withContent: false` has no field that could carry a result.
public struct ResultsFrame: Sendable, Encodable {
    let snapshot: ResultsSnapshot
    let hidden: Bool
    let withContent: Bool
    /// The owner's console and results API: also lists moderated responses.
    let ownerView: Bool

    private enum Keys: String, CodingKey {
        case type, poll, round, seq, total, hidden, counts, words, responses, moderated, baseline
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode("results", forKey: .type)
        try c.encode(snapshot.pollID, forKey: .poll)
        try c.encode(snapshot.round, forKey: .round)
        try c.encode(snapshot.seq, forKey: .seq)
        try c.encode(snapshot.total, forKey: .total)
        if hidden { try c.encode(true, forKey: .hidden) }
        // Hidden means no per-option count of any round leaves the server.
        guard withContent else { return }
        try c.encodeIfPresent(snapshot.baseline, forKey: .baseline)
        switch snapshot.content {
        case .counts(let v): try c.encode(v, forKey: .counts)
        case .words(let v): try c.encode(v.map { [WordOrCount.word($0.word), .count($0.count)] }, forKey: .words)
        case .responses(let v):
            try c.encode(v, forKey: .responses)
            if ownerView && !snapshot.moderated.isEmpty { try c.encode(snapshot.moderated, forKey: .moderated) }
        }
    }

    private enum WordOrCount: Encodable {
        case word(String)
        case count(Int)
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .word(let w): try c.encode(w)
            case .count(let n): try c.encode(n)
            }
        }
    }
}
