/// The kinds of question a poll can ask.
public enum PollType: String, Sendable, Codable, CaseIterable {
    case choice
    case open
    case wordcloud
}

/// How the screen draws a poll's results.
public enum ChartStyle: String, Sendable, Codable, CaseIterable {
    case bar, column, pie, donut
}

/// A poll's settings with the contract's defaults filled in.
public struct PollSettings: Sendable, Equatable, Codable {
    public var maxChoices: Int = 1
    /// Option indexes of the right answers (quizzes); public only once revealed.
    public var correct: [Int]? = nil
    public var allowChange: Bool = true
    public var showResultsToParticipants: Bool = false
    public var identified: Bool = false
    public var chart: ChartStyle = .bar
    public var showPercent: Bool = false
    /// Pre/post: screens draw round 1 beside the current round (choice polls).
    public var compareRounds: Bool = false

    public init() {}

    private enum Keys: String, CodingKey {
        case maxChoices, correct, allowChange, showResultsToParticipants, identified, chart, showPercent, compareRounds
    }

    /// Every field may be missing: settings stored before a field existed read back
    /// with its default (the synthesized decoder threw, and such a poll was dropped).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        maxChoices = try c.decodeIfPresent(Int.self, forKey: .maxChoices) ?? maxChoices
        correct = try c.decodeIfPresent([Int].self, forKey: .correct)
        allowChange = try c.decodeIfPresent(Bool.self, forKey: .allowChange) ?? allowChange
        showResultsToParticipants =
            try c.decodeIfPresent(Bool.self, forKey: .showResultsToParticipants) ?? showResultsToParticipants
        identified = try c.decodeIfPresent(Bool.self, forKey: .identified) ?? identified
        chart = try c.decodeIfPresent(ChartStyle.self, forKey: .chart) ?? chart
        showPercent = try c.decodeIfPresent(Bool.self, forKey: .showPercent) ?? showPercent
        compareRounds = try c.decodeIfPresent(Bool.self, forKey: .compareRounds) ?? compareRounds
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(maxChoices, forKey: .maxChoices)
        try c.encodeIfPresent(correct, forKey: .correct)
        try c.encode(allowChange, forKey: .allowChange)
        try c.encode(showResultsToParticipants, forKey: .showResultsToParticipants)
        try c.encode(identified, forKey: .identified)
        try c.encode(chart, forKey: .chart)
        try c.encode(showPercent, forKey: .showPercent)
        try c.encode(compareRounds, forKey: .compareRounds)
    }
}

/// The presenter-controlled state of a poll.
public struct PollState: Sendable, Equatable, Codable {
    public var active = false
    public var hidden = false
    public var locked = false
    public var revealed = false
    public var round = 1

    public init() {}
}

/// One poll of one presenter. Its JSON form is the contract's flat object.
public struct Poll: Sendable, Equatable {
    public let id: String
    public let owner: String
    public var type: PollType
    public var title: String
    public var options: [String]
    public var settings: PollSettings
    public var state: PollState
    /// Seconds since 1970; orders a presenter's list.
    public var createdAt: Double

    public init(
        id: String,
        owner: String,
        type: PollType,
        title: String,
        options: [String],
        settings: PollSettings,
        state: PollState = PollState(),
        createdAt: Double
    ) {
        self.id = id
        self.owner = owner
        self.type = type
        self.title = title
        self.options = options
        self.settings = settings
        self.state = state
        self.createdAt = createdAt
    }

    /// The view anyone may see: the right answers stay out until revealed.
    public var publicView: Poll {
        var view = self
        if !state.revealed { view.settings.correct = nil }
        return view
    }
}

extension Poll: Encodable {
    private enum Keys: String, CodingKey {
        case id, type, title, options, settings, active, hidden, locked, revealed, round
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(id, forKey: .id)
        try c.encode(type, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(options, forKey: .options)
        try c.encode(settings, forKey: .settings)
        try c.encode(state.active, forKey: .active)
        try c.encode(state.hidden, forKey: .hidden)
        try c.encode(state.locked, forKey: .locked)
        try c.encode(state.revealed, forKey: .revealed)
        try c.encode(state.round, forKey: .round)
    }
}
