import PollcastCore
import XCTest

final class RulesTests: XCTestCase {
    private func poll(_ id: String, type: PollType = .choice, options: [String] = ["a", "b", "c"]) -> Poll {
        Poll(id: id, owner: "alice", type: type, title: "T", options: options, settings: PollSettings(), createdAt: 0)
    }

    func testOneActivePollPerRoom() throws {
        var room = RoomState(presenter: "alice", polls: [poll("1"), poll("2")])
        let first = try room.apply(.activate, to: "1")
        XCTAssertTrue(first.roomChanged)
        XCTAssertEqual(room.activePoll?.id, "1")
        let second = try room.apply(.activate, to: "2")
        XCTAssertEqual(Set(second.changed.map(\.id)), ["1", "2"])
        XCTAssertEqual(room.activePoll?.id, "2")
        XCTAssertFalse(room.polls["1"]!.state.active)
        XCTAssertEqual(try room.apply(.activate, to: "2").changed, [], "repeating a command changes nothing")
        XCTAssertThrowsError(try room.apply(.hide, to: "nope"))
    }

    func testClearStartsANewRoundAndHidesTheAnswerKey() throws {
        var room = RoomState(presenter: "alice", polls: [poll("1")])
        _ = try room.apply(.activate, to: "1")
        _ = try room.apply(.reveal, to: "1")
        let clear = try room.apply(.clear, to: "1")
        XCTAssertTrue(clear.newRound)
        XCTAssertTrue(clear.roomChanged)
        XCTAssertEqual(room.polls["1"]?.state.round, 2)
        XCTAssertEqual(room.polls["1"]?.state.revealed, false)
        // Changes to a poll that is not active do not change what the room shows.
        var other = RoomState(presenter: "alice", polls: [poll("1"), poll("2")])
        _ = try other.apply(.activate, to: "1")
        XCTAssertFalse(try other.apply(.hide, to: "2").roomChanged)
        XCTAssertTrue(try other.apply(.hide, to: "1").roomChanged)
    }

    func testPublicViewKeepsTheAnswerKeyUntilRevealed() throws {
        var p = poll("1")
        p.settings.correct = [1]
        XCTAssertNil(p.publicView.settings.correct)
        p.state.revealed = true
        XCTAssertEqual(p.publicView.settings.correct, [1])
    }

    func testAnswerValidation() throws {
        var multi = poll("1", options: ["a", "b", "c", "d"])
        multi.settings.maxChoices = 2
        XCTAssertEqual(try Answer.validated(choices: [3, 1], text: nil, words: nil, for: multi), .choices([1, 3]))
        for bad in [[], [4], [-1], [1, 1], [0, 1, 2]] {
            XCTAssertThrowsError(try Answer.validated(choices: bad, text: nil, words: nil, for: multi), "\(bad)")
        }
        XCTAssertThrowsError(try Answer.validated(choices: nil, text: "x", words: nil, for: multi))
        let open = poll("2", type: .open, options: [])
        XCTAssertEqual(try Answer.validated(choices: nil, text: "  hi  ", words: nil, for: open), .text("hi"))
        XCTAssertThrowsError(try Answer.validated(choices: nil, text: "   ", words: nil, for: open))
        XCTAssertThrowsError(
            try Answer.validated(choices: nil, text: String(repeating: "x", count: 281), words: nil, for: open)
        )
        let cloud = poll("3", type: .wordcloud, options: [])
        XCTAssertEqual(
            try Answer.validated(choices: nil, text: nil, words: [" Swift", "SWIFT ", "Fast"], for: cloud),
            .words(["swift", "fast"])
        )
        XCTAssertThrowsError(try Answer.validated(choices: nil, text: nil, words: ["a", "b", "c", "d"], for: cloud))
        XCTAssertThrowsError(
            try Answer.validated(choices: nil, text: nil, words: [String(repeating: "w", count: 41)], for: cloud)
        )
    }

    func testStorageRoundTrip() {
        for (answer, type) in [
            (Answer.choices([0, 2]), PollType.choice), (.text("a, b\nc"), .open), (.words(["x", "y"]), .wordcloud),
        ] {
            XCTAssertEqual(Answer(storageText: answer.storageText, type: type), answer)
        }
        XCTAssertEqual(Answer.choices([0, 25]).exportText, "A,Z")
    }

    func testParticipantIDsAndUsernames() {
        XCTAssertTrue(ParticipantID.isAcceptable("0123456789abcdef0123456789abcdef"))
        XCTAssertTrue(ParticipantID.isAcceptable("Vq3kR8zLm2Xw9Tb4Yc7Nd1"))
        XCTAssertFalse(ParticipantID.isAcceptable("0123456789abcdef0123456789abcde"), "31 hex digits: 124 bits")
        XCTAssertFalse(ParticipantID.isAcceptable("Vq3kR8zLm2Xw9Tb4Yc7Nd"), "21 characters")
        XCTAssertFalse(ParticipantID.isAcceptable("abababababababababababab"), "too few distinct characters")
        XCTAssertFalse(ParticipantID.isAcceptable("Vq3kR8zLm2Xw9Tb4Yc7Nd1+/"), "outside base64url")
        XCTAssertTrue(Username.isValid("alice"))
        XCTAssertTrue(Username.isValid("a-1_b"))
        for bad in ["al", "Alice", "-alice", "admin", "api", "present", String(repeating: "a", count: 33), "ali ce"] {
            XCTAssertFalse(Username.isValid(bad), bad)
        }
    }

    func testPollInputRules() throws {
        let base = Poll(
            id: "x",
            owner: "o",
            type: .choice,
            title: "",
            options: [],
            settings: PollSettings(),
            createdAt: 0
        )
        var input = PollInput(type: .choice, title: "  Q  ", options: [" a ", "b"])
        let made = try input.applied(to: base)
        XCTAssertEqual(made.title, "Q")
        XCTAssertEqual(made.options, ["a", "b"])
        input.options = Array(repeating: "o", count: 27)
        XCTAssertThrowsError(try input.applied(to: base))
        let open = PollInput(type: .open, title: "Say", options: ["no options for open"])
        XCTAssertThrowsError(try open.applied(to: base))
    }
}
