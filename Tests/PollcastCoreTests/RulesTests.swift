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

    /// The active poll is tracked, not searched for: every way a poll comes, goes or
    /// changes keeps it right, also among hundreds of polls.
    func testTheActivePollFollowsEveryChange() throws {
        var stored = (0..<300).map { poll(String($0)) }
        stored[120].state.active = true
        var room = RoomState(presenter: "alice", polls: stored)
        XCTAssertEqual(room.activePoll?.id, "120", "loaded from the store")
        _ = try room.apply(.activate, to: "7")
        XCTAssertEqual(room.activePoll?.id, "7")
        XCTAssertEqual(room.polls.values.filter(\.state.active).map(\.id), ["7"])
        _ = try room.apply(.deactivate, to: "120")
        XCTAssertEqual(room.activePoll?.id, "7", "deactivating another poll leaves this one")
        var edited = try XCTUnwrap(room.polls["7"])
        edited.title = "Edited while live"
        room.upsert(edited)
        XCTAssertEqual(room.activePoll?.title, "Edited while live")
        room.upsert(poll("new"))
        XCTAssertEqual(room.activePoll?.id, "7", "a new poll is not active")
        _ = room.remove("7")
        XCTAssertNil(room.activePoll, "deleting the active poll leaves none")
        _ = try room.apply(.activate, to: "299")
        _ = try room.apply(.deactivate, to: "299")
        XCTAssertNil(room.activePoll)
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
            let options = type == .choice ? ["a", "b", "c"] : []
            XCTAssertEqual(
                Answer(storageText: answer.storageText, for: poll("p", type: type, options: options)),
                answer
            )
        }
        XCTAssertEqual(Answer.choices([0, 25]).exportText, "A,Z")
    }

    /// A stored value written for another shape of the poll (before an edit, by an older
    /// version) is skipped by every reader; nothing traps.
    func testStoredValuesThatNoLongerFitAreSkippedNotTrusted() {
        let twoOptions = poll("p", options: ["yes", "no"])
        XCTAssertNil(Answer(storageText: "300", for: twoOptions), "an option the poll does not have")
        XCTAssertNil(Answer(storageText: "1,1", for: twoOptions), "the same option twice")
        XCTAssertNil(Answer(storageText: "-1", for: twoOptions))
        XCTAssertNil(Answer(storageText: "", for: twoOptions))
        XCTAssertNil(Answer(storageText: "1,2", for: twoOptions), "a text of an open round read as choices")
        XCTAssertEqual(Answer(storageText: "1,0", for: twoOptions), .choices([0, 1]))
        XCTAssertEqual(Answer.choices([300, -1]).exportText, "#300,#-1", "never a trap, whatever the index")

        let tally = AnswerTally(pollID: "p", round: 1, type: .choice, optionCount: 2, clock: ChangeClock())
        tally.restore(participant: "x", entry: .init(answer: .choices([300]), revision: 1, stamp: 1, name: nil))
        tally.restore(participant: "y", entry: .init(answer: .choices([1]), revision: 1, stamp: 2, name: nil))
        XCTAssertEqual(tally.snapshot().content, .counts([0, 1]))
        XCTAssertEqual(tally.total, 1)
    }

    /// Limits hold in bytes as well as characters: one character may carry thousands of
    /// combining marks, and a flag is 8 bytes.
    func testTextLimitsHoldInBytesAndRefuseControlCharacters() throws {
        let open = poll("o", type: .open, options: [])
        func text(_ t: String) throws -> Answer { try Answer.validated(choices: nil, text: t, words: nil, for: open) }
        let flags = String(repeating: "🇺🇦", count: 140)  // 140 characters, 1,120 bytes
        XCTAssertEqual(try text(flags), .text(flags), "140 flags fit exactly")
        XCTAssertThrowsError(try text(String(repeating: "🇺🇦", count: 141)), "1,128 bytes")
        XCTAssertThrowsError(try text(String(repeating: "🇺🇦", count: 280)), "280 characters but 2,240 bytes")
        let zalgo = "a" + String(repeating: "\u{0301}", count: 30_000)
        XCTAssertEqual(zalgo.count, 1, "one character")
        XCTAssertThrowsError(try text(zalgo)) { error in
            XCTAssertTrue("\(error)".contains("bytes"), "\(error)")
        }
        XCTAssertEqual(try text("Ünïcödé ✓ 日本語 " + String(repeating: "é", count: 200)).storageText.count, 214)
        XCTAssertThrowsError(try text("ok " + "a" + String(repeating: "\u{0301}", count: 12)), "a pile of marks")
        let family = "👩‍👩‍👧‍👦 👩🏽‍❤️‍💋‍👨🏿 🏳️‍🌈 1️⃣ ñ ế"
        XCTAssertEqual(try text(family), .text(family), "every emoji sequence and accented letter fits")
        XCTAssertThrowsError(try text("a\u{0000}b"), "NUL")
        XCTAssertThrowsError(try text("a\u{0085}b"), "C1 control")
        XCTAssertEqual(try text("two\nlines"), .text("two\nlines"))

        let cloud = poll("w", type: .wordcloud, options: [])
        XCTAssertThrowsError(
            try Answer.validated(choices: nil, text: nil, words: [String(repeating: "ж", count: 41)], for: cloud)
        )
        XCTAssertThrowsError(
            try Answer.validated(
                choices: nil,
                text: nil,
                words: ["a" + String(repeating: "\u{0301}", count: 200)],
                for: cloud
            ),
            "one character, 401 bytes"
        )

        let base = poll("t")
        XCTAssertThrowsError(try PollInput(title: "a\u{0000}b").applied(to: base)) { error in
            XCTAssertTrue("\(error)".contains("control"), "\(error)")
        }
        XCTAssertThrowsError(try PollInput(options: ["ok", "no\u{0000}pe"]).applied(to: base))
        XCTAssertThrowsError(try PollInput(options: ["ok", "two\nlines"]).applied(to: base), "options are one line")
        XCTAssertThrowsError(try PollInput(title: "x" + String(repeating: "\u{0308}", count: 2_000)).applied(to: base))
        let fiveLines = (1...5).map { "Line \($0) of a long question about photosynthesis and light?" }
            .joined(separator: "\n")
        XCTAssertEqual(try PollInput(title: fiveLines).applied(to: base).title, fiveLines)
        XCTAssertThrowsError(try TextLimits.screenName.checked("Ann\u{0007}"))
        XCTAssertThrowsError(try TextLimits.screenName.checked("\u{200B}\u{200B}"), "nothing visible")
        XCTAssertThrowsError(try TextLimits.screenName.checked("\u{FEFF}"), "a BOM alone")
        XCTAssertThrowsError(try TextLimits.screenName.checked("Ann \u{202E}eeL"), "a right-to-left override")
        XCTAssertEqual(try TextLimits.screenName.checked("نور الهدى"), "نور الهدى", "right-to-left script is fine")
        XCTAssertEqual(try TextLimits.screenName.checked("  Zoë 🦊  "), "Zoë 🦊")
    }

    /// `JSONSize` never under-counts what JSONEncoder writes, for any text.
    func testJSONSizeIsAnUpperBoundOfTheEncoding() throws {
        let samples = [
            "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\u{0001}\u{007F}", "🇺🇦👩‍👩‍👧‍👦", "\u{2028}\u{2029}",
            "a" + String(repeating: "\u{0301}", count: 50), "<script>alert(1)</script>", "日本語のテキスト",
        ]
        for s in samples {
            let encoded = try JSONEncoder().encode(s)
            XCTAssertLessThanOrEqual(encoded.count, JSONSize.of(s), s)
        }
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

/// Settings written before a field existed still read back (with its default).
final class StoredSettingsTests: XCTestCase {
    func testSettingsWithoutNewerFieldsDecodeWithDefaults() throws {
        let old =
            #"{"maxChoices":2,"correct":[1],"allowChange":false,"showResultsToParticipants":true,"identified":true}"#
        let settings = try JSONDecoder().decode(PollSettings.self, from: Data(old.utf8))
        XCTAssertEqual(settings.maxChoices, 2)
        XCTAssertEqual(settings.correct, [1])
        XCTAssertFalse(settings.allowChange)
        XCTAssertEqual(settings.chart, .bar)
        XCTAssertFalse(settings.showPercent)
        XCTAssertFalse(settings.compareRounds)
        let again = try JSONDecoder().decode(PollSettings.self, from: try JSONEncoder().encode(settings))
        XCTAssertEqual(again, settings)
        XCTAssertEqual(try JSONDecoder().decode(PollSettings.self, from: Data("{}".utf8)), PollSettings())
    }
}
