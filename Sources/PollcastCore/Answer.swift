/// One participant's answer to one poll, normalised so that equal answers compare equal
/// (a resent answer is recognised as the same one).
public enum Answer: Sendable, Hashable {
    /// Option indexes, distinct and ascending.
    case choices([Int])
    /// Free text, trimmed.
    case text(String)
    /// Case-folded, trimmed, distinct words in the order given.
    case words([String])

    public static let wordsPerAnswer = 1...3

    /// Validates what a client sent against `poll` and normalises it.
    public static func validated(
        choices: [Int]?,
        text: String?,
        words: [String]?,
        for poll: Poll
    ) throws(PollcastError) -> Answer {
        switch poll.type {
        case .choice:
            guard let choices, text == nil, words == nil else {
                throw .badRequest("a choice poll is answered with \"choices\": a list of option indexes")
            }
            let distinct = Set(choices)
            guard !choices.isEmpty, distinct.count == choices.count else {
                throw .badRequest("choices must be a non-empty list of distinct option indexes")
            }
            guard choices.count <= poll.settings.maxChoices else {
                throw .badRequest("this poll takes at most \(poll.settings.maxChoices) choice(s)")
            }
            guard choices.allSatisfy({ poll.options.indices.contains($0) }) else {
                throw .badRequest("choices must be between 0 and \(poll.options.count - 1)")
            }
            return .choices(choices.sorted())
        case .open:
            guard let text, choices == nil, words == nil else {
                throw .badRequest("an open poll is answered with \"text\"")
            }
            return .text(try TextLimits.answerText.checked(text))
        case .wordcloud:
            guard let words, choices == nil, text == nil else {
                throw .badRequest("a word cloud is answered with \"words\": a list of 1 to 3 words")
            }
            guard wordsPerAnswer.contains(words.count) else {
                throw .badRequest("send 1 to \(wordsPerAnswer.upperBound) words")
            }
            var folded: [String] = []
            for word in words {
                // Folding can grow a word ("ß" becomes "ss"), so the limit is checked after it.
                let w = try TextLimits.word.checked(word.lowercased())
                if !folded.contains(w) { folded.append(w) }
            }
            return .words(folded)
        }
    }

    /// A compact text form for storage; `init(storageText:type:)` reads it back.
    public var storageText: String {
        switch self {
        case .choices(let c): c.map(String.init).joined(separator: ",")
        case .text(let t): t
        case .words(let w): w.joined(separator: "\n")
        }
    }

    /// Reads back what `storageText` wrote for `poll`, or nil when the stored text does
    /// not fit the poll as it is now (a row written before an edit, or by an older
    /// version): readers skip such a row instead of trusting it.
    public init?(storageText: String, for poll: Poll) {
        switch poll.type {
        case .choice:
            var indexes: [Int] = []
            for part in storageText.split(separator: ",", omittingEmptySubsequences: false) {
                guard let i = Int(part), poll.options.indices.contains(i), !indexes.contains(i) else { return nil }
                indexes.append(i)
            }
            guard !indexes.isEmpty else { return nil }
            self = .choices(indexes.sorted())
        case .open: self = .text(storageText)
        case .wordcloud: self = .words(storageText.split(separator: "\n").map(String.init))
        }
    }

    /// How an export shows the answer: letters for choices.
    public var exportText: String {
        switch self {
        case .choices(let c): c.map { Self.letter($0) }.joined(separator: ",")
        case .text(let t): t
        case .words(let w): w.joined(separator: " ")
        }
    }

    /// The option letter of an index (A..Z); any other index is shown as its number.
    public static func letter(_ index: Int) -> String {
        guard (0..<26).contains(index), let scalar = Unicode.Scalar(65 + index) else { return "#\(index)" }
        return String(Character(scalar))
    }
}

extension Answer: Encodable {
    private enum Keys: String, CodingKey { case choices, text, words }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .choices(let v): try c.encode(v, forKey: .choices)
        case .text(let v): try c.encode(v, forKey: .text)
        case .words(let v): try c.encode(v, forKey: .words)
        }
    }
}

/// Participant ids: kept by the client, and the only thing that tells participants apart.
public enum ParticipantID {
    public static let length = 22...64

    /// Whether `id` looks like it carries at least 128 random bits: 22 to 64 characters
    /// of `[A-Za-z0-9_-]`, at least 32 when it is only hex digits, and not a run of a few
    /// repeated characters. Randomness cannot be proven, but short and patterned ids can
    /// be refused.
    public static func isAcceptable(_ id: String) -> Bool {
        let scalars = id.unicodeScalars
        guard length.contains(scalars.count) else { return false }
        var allHex = true
        for s in scalars {
            switch s {
            case "0"..."9", "a"..."f", "A"..."F": break
            case "g"..."z", "G"..."Z", "_", "-": allHex = false
            default: return false
            }
        }
        if allHex && scalars.count < 32 { return false }
        return Set(scalars).count >= 8
    }
}
