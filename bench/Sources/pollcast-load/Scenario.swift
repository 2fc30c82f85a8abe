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
    /// Only this many participants answer (nil: all); the others only watch the results.
    var answering: Int?
    /// Seconds between an ack and a participant's next answer (0: at once).
    var answerGap = 0.0

    static let all: [String: Scenario] = [
        // Does the tick keep time when every tick has thousands of frames to write? 5,000
        // watchers (participants who get the results: screens are capped per address) and
        // 40 participants who change their answer 8 times a second for 10 s (under the
        // answer rate limit), so the tally moves in every tick: each watcher should get
        // one frame per tick.
        "cadence": Scenario(
            name: "cadence",
            participants: 5000,
            screens: 0,
            consoles: 0,
            window: 0,
            answersEach: 80,
            resultsToParticipants: true,
            answering: 40,
            answerGap: 0.125
        ),
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
