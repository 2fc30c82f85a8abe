/// A shape of load: who connects, and how they answer.
struct Scenario: Sendable {
    var name: String
    var participants: Int
    var screens: Int
    var consoles: Int
    /// Answers are spread evenly over this many seconds (0: all at once).
    var window: Double
    /// Answers per participant; after the first, each is sent as soon as the previous is acked.
    var answersEach: Int
    /// Participants receive the live results too (the fan-out case).
    var resultsToParticipants: Bool
    /// Instead of answering: drop every participant at once, reconnect them all, drop again.
    var reconnectStorm = false
    /// Open polls answered with long texts make large results frames.
    var openPoll = false
    /// Screens that stop reading after their first frame (the run is made with and without them).
    var stalled = 0

    static let all: [String: Scenario] = [
        "smoke": Scenario(
            name: "smoke",
            participants: 40,
            screens: 1,
            consoles: 1,
            window: 0.2,
            answersEach: 1,
            resultsToParticipants: true
        ),
        "classroom": Scenario(
            name: "classroom",
            participants: 300,
            screens: 1,
            consoles: 0,
            window: 2,
            answersEach: 1,
            resultsToParticipants: false
        ),
        "lecture": Scenario(
            name: "lecture",
            participants: 1000,
            screens: 2,
            consoles: 1,
            window: 1,
            answersEach: 1,
            resultsToParticipants: false
        ),
        "hall": Scenario(
            name: "hall",
            participants: 5000,
            screens: 1,
            consoles: 0,
            window: 2,
            answersEach: 1,
            resultsToParticipants: true
        ),
        "reconnect": Scenario(
            name: "reconnect",
            participants: 2000,
            screens: 1,
            consoles: 0,
            window: 0,
            answersEach: 0,
            resultsToParticipants: false,
            reconnectStorm: true
        ),
        "stall": Scenario(
            name: "stall",
            participants: 1000,
            screens: 2,
            consoles: 0,
            window: 3,
            answersEach: 1,
            resultsToParticipants: false,
            openPoll: true,
            stalled: 1
        ),
        "storm": Scenario(
            name: "storm",
            participants: 1000,
            screens: 1,
            consoles: 0,
            window: 0,
            answersEach: 6,
            resultsToParticipants: false
        ),
    ]
}
