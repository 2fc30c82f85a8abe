/// A limit on one piece of text a person typed (a title, an option, an answer, a word,
/// a screen name), true in characters and in UTF-8 bytes alike.
///
/// Characters alone are not enough: one character may carry any number of combining
/// marks, and a flag emoji is 8 bytes. Every frame and row built from these texts is
/// sized from `maxBytes`, so the byte bound is what keeps frames sendable.
public struct TextLimit: Sendable {
    /// What the text is, for the error message ("title", "option 3", "text").
    public let name: String
    public let characters: ClosedRange<Int>
    public let maxBytes: Int
    /// Whether line breaks may stand inside the text (a question, an open answer).
    public let allowsNewlines: Bool

    public init(_ name: String, characters: ClosedRange<Int>, maxBytes: Int, allowsNewlines: Bool = false) {
        self.name = name
        self.characters = characters
        self.maxBytes = maxBytes
        self.allowsNewlines = allowsNewlines
    }

    /// The same limit under another name (option 3, word 2).
    public func named(_ name: String) -> TextLimit {
        TextLimit(name, characters: characters, maxBytes: maxBytes, allowsNewlines: allowsNewlines)
    }

    /// `text` trimmed of surrounding white space, if it keeps to the limit; else
    /// `bad_request` with a sentence naming the field and the limit it broke.
    public func checked(_ text: String) throws(PollcastError) -> String {
        // Bytes first: counting characters walks the whole string, so refuse a huge one cheaply.
        guard text.utf8.count <= maxBytes * 4 else { throw tooLong }
        let trimmed = text.trimmedWhitespace
        guard trimmed.utf8.count <= maxBytes else { throw tooLong }
        guard characters.contains(trimmed.count) else {
            throw .badRequest("\(name) must be \(characters.lowerBound) to \(characters.upperBound) characters")
        }
        if let bad = trimmed.unicodeScalars.first(where: { Self.isControl($0, allowingNewline: allowsNewlines) }) {
            throw .badRequest("\(name) must not contain control characters (found U+\(Self.hex(bad)))")
        }
        // Bidi overrides reorder what follows them on the screen; a text of nothing but
        // format characters (zero-width spaces, a BOM) shows as nothing.
        if let bad = trimmed.unicodeScalars.first(where: Self.isBidiControl) {
            throw .badRequest("\(name) must not contain direction controls (found U+\(Self.hex(bad)))")
        }
        guard trimmed.unicodeScalars.contains(where: Self.isVisible) else {
            throw .badRequest("\(name) must contain something visible")
        }
        // A character piled with combining marks draws far above and below its line, over
        // everything else on a projector. The longest emoji sequences have 10 scalars.
        guard trimmed.allSatisfy({ $0.unicodeScalars.count <= Self.scalarsPerCharacter }) else {
            throw .badRequest(
                "\(name) must not stack more than \(Self.scalarsPerCharacter - 1) marks on one character"
            )
        }
        return trimmed
    }

    /// Unicode scalars one character may hold: every emoji sequence (a family, a kiss
    /// with skin tones) fits; a letter with dozens of stacked accents does not.
    public static let scalarsPerCharacter = 12

    private var tooLong: PollcastError {
        .badRequest("\(name) must be at most \(characters.upperBound) characters and \(maxBytes) bytes")
    }

    /// C0 and C1 controls and DEL (a NUL would cut the text short in the store).
    static func isControl(_ s: Unicode.Scalar, allowingNewline: Bool) -> Bool {
        if s == "\n" { return !allowingNewline }
        return s.value < 0x20 || (0x7F...0x9F).contains(s.value)
    }

    /// Embeddings, overrides and isolates (U+202A–202E, U+2066–2069).
    static func isBidiControl(_ s: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
    }

    static func isVisible(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .format, .control, .spaceSeparator, .lineSeparator, .paragraphSeparator, .nonspacingMark,
            .enclosingMark:
            false
        default: !s.properties.isWhitespace
        }
    }

    private static func hex(_ s: Unicode.Scalar) -> String {
        let digits = String(s.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Every limit on typed text, in one place. Bytes allow four per character: any
/// character of any script, one emoji each, fits; piles of combining marks do not.
public enum TextLimits {
    public static let title = TextLimit("title", characters: 1...300, maxBytes: 1_200, allowsNewlines: true)
    public static let option = TextLimit("option", characters: 1...120, maxBytes: 480)
    public static let answerText = TextLimit("text", characters: 1...280, maxBytes: 1_120, allowsNewlines: true)
    public static let word = TextLimit("each word", characters: 1...40, maxBytes: 160)
    public static let screenName = TextLimit("name", characters: 1...40, maxBytes: 160)
}

/// How many bytes a string takes inside a JSON document at most, quotes included:
/// what `JSONEncoder` writes for it, or more (never less). Lets frames be sized
/// before they are encoded.
public enum JSONSize {
    public static func of(_ string: String) -> Int {
        var n = 2
        for s in string.unicodeScalars {
            switch s.value {
            case 0x22, 0x5C, 0x2F: n += 2  // \" \\ \/
            case 0..<0x20, 0x7F: n += 6  // \u00XX
            case 0x20..<0x80: n += 1
            case 0x2028, 0x2029: n += 6  // some encoders escape these too
            default: n += UTF8.width(s)
            }
        }
        return n
    }
}
