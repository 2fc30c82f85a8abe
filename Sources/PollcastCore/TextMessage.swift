/// A text message (SMS) read as pollcast reads it: maybe a presenter's keyword first,
/// then an answer to the active poll. Pure: which words are keywords, and which poll is
/// active, are passed in.
public enum TextMessage {
    /// Words carriers and Twilio act on themselves (opt-out, opt-in, help): a student
    /// who texts STOP is blocked from every reply of that number, so none is a keyword.
    public static let carrierWords: Set<String> = [
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "start", "yes", "unstop", "help", "info",
    ]

    /// The keyword a presenter's audience texts: 3 to 20 of `a-z`, `0-9`, `_`, `-`
    /// (a username is one), compared without case, and not a carrier word.
    public static func isValidKeyword(_ word: String) -> Bool {
        !carrierWords.contains(word) && (3...20).contains(word.utf8.count)
            && word.utf8.allSatisfy {
                (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D
            }
    }

    /// The first word (lower-cased, without trailing punctuation) and the rest of the
    /// message, trimmed. An empty message gives ("", "").
    public static func split(_ body: String) -> (first: String, rest: String) {
        let trimmed = body.trimmedWhitespace
        guard let space = trimmed.firstIndex(where: { $0.isWhitespace }) else {
            return (keywordForm(trimmed), "")
        }
        return (keywordForm(String(trimmed[..<space])), String(trimmed[space...]).trimmedWhitespace)
    }

    private static func keywordForm(_ word: String) -> String {
        var w = Substring(word.lowercased())
        while let last = w.last, ".,:;!?".contains(last) { w = w.dropLast() }
        return String(w)
    }

    /// An answer as `PollService.submit` takes it.
    public struct Reading: Sendable, Equatable {
        public var choices: [Int]?
        public var text: String?
        public var words: [String]?
    }

    /// Reads `text` as an answer to `poll`: letters for a choice poll (`B`, `b`, `B.`,
    /// ` b `, `A C`, `AC`, `a,c`), the text for an open poll, words for a word cloud
    /// (split at commas if there are any, else at spaces). Nil when a choice poll's
    /// text is not letters of its options; the limits of each type are checked later,
    /// by the same rules as every other channel.
    public static func reading(_ text: String, for poll: Poll) -> Reading? {
        let text = text.trimmedWhitespace
        guard !text.isEmpty else { return nil }
        switch poll.type {
        case .choice:
            var choices: [Int] = []
            for scalar in text.unicodeScalars {
                if " \t\n\r.,;:)(-/&+".unicodeScalars.contains(scalar) { continue }
                let upper = scalar.properties.uppercaseMapping
                guard upper.unicodeScalars.count == 1, let letter = upper.unicodeScalars.first,
                    (65...90).contains(letter.value)
                else { return nil }
                let index = Int(letter.value) - 65
                guard index < poll.options.count else { return nil }
                if !choices.contains(index) { choices.append(index) }
            }
            return choices.isEmpty ? nil : Reading(choices: choices)
        case .open:
            return Reading(text: text)
        case .wordcloud:
            let separators: (Character) -> Bool =
                text.contains(",") ? { $0 == "," } : { $0.isWhitespace }
            let words = text.split(whereSeparator: separators).map { $0.trimmedWhitespace }
                .filter { !$0.isEmpty }
            return words.isEmpty ? nil : Reading(words: words)
        }
    }

    /// At most `limit` Unicode scalars of `text` (one character can carry hundreds of
    /// combining marks: echoes in replies are counted in scalars, so a reply stays short).
    public static func echo(_ text: String, limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars.prefix(limit))
        return String(view) + "…"
    }

    /// How to answer `poll` by text, in a few words ("Reply with a letter, A to D.").
    public static func howToAnswer(_ poll: Poll) -> String {
        switch poll.type {
        case .choice:
            let last = Character(UnicodeScalar(UInt8(64 + max(poll.options.count, 1))))
            return poll.settings.maxChoices > 1
                ? "Reply with up to \(poll.settings.maxChoices) letters, A to \(last) (e.g. AC)."
                : "Reply with one letter, A to \(last)."
        case .open: return "Reply with your answer."
        case .wordcloud: return "Reply with 1 to \(Answer.wordsPerAnswer.upperBound) words."
        }
    }
}
