/// What a presenter sends to create or edit a poll; every field optional so the
/// same shape serves `POST` (create) and `PATCH` (edit). Validation is `PollInput.validated`.
public struct PollInput: Sendable, Decodable, Equatable {
    public var type: PollType?
    public var title: String?
    public var options: [String]?
    public var settings: SettingsInput?

    public init(type: PollType? = nil, title: String? = nil, options: [String]? = nil, settings: SettingsInput? = nil) {
        self.type = type
        self.title = title
        self.options = options
        self.settings = settings
    }

    /// Settings as sent: absent fields keep their current (or default) value.
    public struct SettingsInput: Sendable, Decodable, Equatable {
        public var maxChoices: Int?
        public var correct: [Int]?
        public var allowChange: Bool?
        public var showResultsToParticipants: Bool?
        public var identified: Bool?
        public var chart: ChartStyle?
        public var showPercent: Bool?
        public var compareRounds: Bool?

        public init() {}
    }
}

/// Limits of what a poll may hold (the texts' limits are in `TextLimits`).
public enum PollLimits {
    public static let choiceOptions = 2...26
}

extension PollInput {
    /// The poll this input describes, built on `base` (a new poll's defaults, or the
    /// poll being edited). Throws `bad_request` with a sentence naming the field.
    public func applied(to base: Poll) throws(PollcastError) -> Poll {
        var poll = base
        if let type { poll.type = type }
        if let title { poll.title = try TextLimits.title.checked(title) }
        if let options {
            guard options.count <= PollLimits.choiceOptions.upperBound else {
                throw .badRequest("a choice poll has at most \(PollLimits.choiceOptions.upperBound) options")
            }
            poll.options = try options.enumerated().map { (index, label) throws(PollcastError) in
                try TextLimits.option.named("option \(index + 1)").checked(label)
            }
        }
        if let s = settings {
            if let v = s.maxChoices { poll.settings.maxChoices = v }
            if let v = s.correct { poll.settings.correct = v.isEmpty ? nil : v }
            if let v = s.allowChange { poll.settings.allowChange = v }
            if let v = s.showResultsToParticipants { poll.settings.showResultsToParticipants = v }
            if let v = s.identified { poll.settings.identified = v }
            if let v = s.chart { poll.settings.chart = v }
            if let v = s.showPercent { poll.settings.showPercent = v }
            if let v = s.compareRounds { poll.settings.compareRounds = v }
        }
        try poll.checkShape()
        return poll
    }
}

extension Poll {
    /// Checks the rules that tie fields together (options per type, maxChoices, correct).
    func checkShape() throws(PollcastError) {
        guard !title.isEmpty else { throw .badRequest("title is required") }
        switch type {
        case .choice:
            guard PollLimits.choiceOptions.contains(options.count) else {
                throw .badRequest("a choice poll needs 2 to 26 options")
            }
            guard (1...options.count).contains(settings.maxChoices) else {
                throw .badRequest("settings.maxChoices must be between 1 and the number of options")
            }
            if let correct = settings.correct {
                guard Set(correct).count == correct.count, correct.allSatisfy({ options.indices.contains($0) }) else {
                    throw .badRequest("settings.correct must list distinct option indexes")
                }
            }
        case .open, .wordcloud:
            guard options.isEmpty else { throw .badRequest("a \(type.rawValue) poll has no options") }
            guard settings.correct == nil else { throw .badRequest("settings.correct applies to choice polls only") }
            guard !settings.compareRounds else {
                throw .badRequest("settings.compareRounds applies to choice polls only")
            }
            guard settings.maxChoices == 1 else {
                throw .badRequest("settings.maxChoices applies to choice polls only")
            }
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing white space (Unicode's notion of it).
    public var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
