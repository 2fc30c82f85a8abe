import XCTest

@testable import PollcastCore

/// How a text message is read: keyword, letters, text, words.
final class TextMessageReadingTests: XCTestCase {
    private func poll(_ type: PollType, options: Int = 4, maxChoices: Int = 1) -> Poll {
        var settings = PollSettings()
        settings.maxChoices = maxChoices
        return Poll(
            id: "p",
            owner: "alice",
            type: type,
            title: "T",
            options: (0..<options).map { "Option \($0)" },
            settings: settings,
            createdAt: 0
        )
    }

    func testTheFirstWordIsSplitOffWithoutCaseOrPunctuation() {
        XCTAssertEqual(TextMessage.split("  ALICE,  b. ").first, "alice")
        XCTAssertEqual(TextMessage.split("  ALICE,  b. ").rest, "b.")
        XCTAssertEqual(TextMessage.split("Bio101").first, "bio101")
        XCTAssertEqual(TextMessage.split("Bio101").rest, "")
        XCTAssertEqual(TextMessage.split("").first, "")
        XCTAssertEqual(
            TextMessage.split("alice\nThe mitochondria\nis the powerhouse").rest,
            "The mitochondria\nis the powerhouse"
        )
    }

    func testLettersAreReadTheWaysPeopleTypeThem() {
        let four = poll(.choice)
        for text in ["B", "b", "B.", " b ", "(b)", "b)"] {
            XCTAssertEqual(TextMessage.reading(text, for: four)?.choices, [1], text)
        }
        for text in ["A C", "AC", "a,c", "a & c", "c a a"] {
            XCTAssertEqual(Set(TextMessage.reading(text, for: four)?.choices ?? []), [0, 2], text)
        }
        XCTAssertNil(TextMessage.reading("E", for: four), "past the last option")
        XCTAssertNil(TextMessage.reading("yes", for: four), "Y is not an option of four")
        XCTAssertNil(TextMessage.reading("2", for: four))
        XCTAssertNil(TextMessage.reading("🅱️", for: four))
        XCTAssertNil(TextMessage.reading("  ", for: four))
        XCTAssertEqual(TextMessage.reading("z", for: poll(.choice, options: 26))?.choices, [25])
    }

    func testOpenTextAndWordsKeepWhatWasSent() {
        XCTAssertEqual(TextMessage.reading("  Cells need ATP 🔋 ", for: poll(.open))?.text, "Cells need ATP 🔋")
        XCTAssertEqual(
            TextMessage.reading("powerhouse, energy ", for: poll(.wordcloud))?.words,
            ["powerhouse", "energy"]
        )
        XCTAssertEqual(
            TextMessage.reading("powerhouse energy", for: poll(.wordcloud))?.words,
            ["powerhouse", "energy"]
        )
        XCTAssertEqual(TextMessage.reading("cell wall, ATP", for: poll(.wordcloud))?.words, ["cell wall", "ATP"])
    }

    func testKeywordsAndHowToAnswer() {
        XCTAssertTrue(TextMessage.isValidKeyword("bio101"))
        XCTAssertTrue(TextMessage.isValidKeyword("chem_lab-2"))
        XCTAssertFalse(TextMessage.isValidKeyword("ab"))
        XCTAssertFalse(TextMessage.isValidKeyword("Bio101"), "stored lower-case")
        XCTAssertFalse(TextMessage.isValidKeyword("bio 101"))
        XCTAssertFalse(TextMessage.isValidKeyword(String(repeating: "a", count: 21)))
        XCTAssertEqual(TextMessage.howToAnswer(poll(.choice)), "Reply with one letter, A to D.")
        XCTAssertEqual(
            TextMessage.howToAnswer(poll(.choice, options: 26, maxChoices: 3)),
            "Reply with up to 3 letters, A to Z (e.g. AC)."
        )
    }
}
