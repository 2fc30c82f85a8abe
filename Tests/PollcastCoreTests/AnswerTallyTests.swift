import Dispatch
import PollcastCore
import XCTest

final class AnswerTallyTests: XCTestCase {
    private func makeTally(options: Int = 4, type: PollType = .choice) -> AnswerTally {
        AnswerTally(pollID: "p", round: 1, type: type, optionCount: options, clock: ChangeClock())
    }

    func testFirstAnswerChangeAndDuplicate() throws {
        let tally = makeTally()
        let v0 = tally.version
        guard case .accepted(let e1, nil) = try tally.submit(participant: "a", answer: .choices([1]), allowChange: true)
        else { return XCTFail("first answer is accepted") }
        XCTAssertEqual(e1.revision, 1)
        XCTAssertGreaterThan(tally.version, v0)
        XCTAssertEqual(tally.snapshot().content, .counts([0, 1, 0, 0]))

        guard case .duplicate = try tally.submit(participant: "a", answer: .choices([1]), allowChange: true) else {
            return XCTFail("same answer again is a duplicate")
        }
        guard
            case .accepted(let e2, let previous) = try tally.submit(
                participant: "a",
                answer: .choices([0, 3]),
                allowChange: true
            )
        else { return XCTFail("a change is accepted") }
        XCTAssertEqual(previous, e1)
        XCTAssertEqual(e2.revision, 2)
        let snapshot = tally.snapshot()
        XCTAssertEqual(snapshot.content, .counts([1, 0, 0, 1]))
        XCTAssertEqual(snapshot.total, 1)
    }

    func testNoChangeWhenNotAllowed() throws {
        let tally = makeTally()
        _ = try tally.submit(participant: "a", answer: .choices([1]), allowChange: false)
        XCTAssertThrowsError(try tally.submit(participant: "a", answer: .choices([2]), allowChange: false)) {
            XCTAssertEqual(($0 as? PollcastError)?.code, .alreadyAnswered)
        }
        guard case .duplicate = try tally.submit(participant: "a", answer: .choices([1]), allowChange: false) else {
            return XCTFail("the same answer is still idempotent")
        }
        XCTAssertEqual(tally.snapshot().content, .counts([0, 1, 0, 0]))
    }

    func testRevertUndoesOnlyTheLatestChange() throws {
        let tally = makeTally()
        guard
            case .accepted(let first, nil) = try tally.submit(
                participant: "a",
                answer: .choices([0]),
                allowChange: true
            ),
            case .accepted(let second, let prev) = try tally.submit(
                participant: "a",
                answer: .choices([2]),
                allowChange: true
            )
        else { return XCTFail() }
        // Reverting the older change does nothing: a newer one replaced it.
        tally.revert(participant: "a", entry: first, previous: nil)
        XCTAssertEqual(tally.snapshot().content, .counts([0, 0, 1, 0]))
        tally.revert(participant: "a", entry: second, previous: prev)
        XCTAssertEqual(tally.snapshot().content, .counts([1, 0, 0, 0]))
        XCTAssertEqual(tally.entry(of: "a")?.answer, .choices([0]))
    }

    func testWordCloudAndOpenTallies() throws {
        let words = makeTally(options: 0, type: .wordcloud)
        _ = try words.submit(participant: "a", answer: .words(["swift", "fast"]), allowChange: true)
        _ = try words.submit(participant: "b", answer: .words(["swift"]), allowChange: true)
        _ = try words.submit(participant: "a", answer: .words(["swift", "safe"]), allowChange: true)
        XCTAssertEqual(
            words.snapshot().content,
            .words([.init(word: "swift", count: 2), .init(word: "safe", count: 1)])
        )
        let open = makeTally(options: 0, type: .open)
        _ = try open.submit(participant: "a", answer: .text("first"), allowChange: true)
        _ = try open.submit(participant: "b", answer: .text("second"), allowChange: true)
        XCTAssertEqual(open.snapshot().content, .responses(["second", "first"]))
    }

    /// Many threads, many participants, each changing its answer several times, with
    /// duplicates mixed in: the final counts are exactly what the last answers say.
    func testConcurrentIngestIsExact() throws {
        let threads = 8
        let participantsPerThread = 500
        let changes = 5
        let tally = makeTally(options: 4)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for round in 0..<changes {
                for i in 0..<participantsPerThread {
                    let choice = (i + round + t) % 4
                    _ = try? tally.submit(participant: "t\(t)p\(i)", answer: .choices([choice]), allowChange: true)
                    // A retry of the same answer must not count twice.
                    _ = try? tally.submit(participant: "t\(t)p\(i)", answer: .choices([choice]), allowChange: true)
                }
            }
        }
        var expected = [0, 0, 0, 0]
        for t in 0..<threads {
            for i in 0..<participantsPerThread { expected[(i + changes - 1 + t) % 4] += 1 }
        }
        let snapshot = tally.snapshot()
        XCTAssertEqual(snapshot.content, .counts(expected))
        XCTAssertEqual(snapshot.total, threads * participantsPerThread)
    }

    /// Several threads change the answer of the same participants at once: whatever
    /// order wins, the counts equal the final answers (no lost or double update).
    func testContendedParticipantsStayConsistent() throws {
        let tally = makeTally(options: 3)
        let participants = 50
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in 0..<400 {
                let p = "p\(n % participants)"
                _ = try? tally.submit(participant: p, answer: .choices([(n + t) % 3]), allowChange: true)
            }
        }
        var expected = [0, 0, 0]
        for n in 0..<participants {
            guard case .choices(let c)? = tally.entry(of: "p\(n)")?.answer else { return XCTFail("lost participant") }
            for i in c { expected[i] += 1 }
        }
        XCTAssertEqual(tally.snapshot().content, .counts(expected))
        XCTAssertEqual(tally.total, participants)
    }

    func testClockStampsGrowAcrossThreads() {
        let clock = ChangeClock()
        let seen = Locked<Set<UInt64>>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var local: [UInt64] = []
            for _ in 0..<10_000 { local.append(clock.next()) }
            XCTAssertEqual(local, local.sorted())
            seen.withLock { $0.formUnion(local) }
        }
        XCTAssertEqual(seen.withLock { $0.count }, 40_000, "every stamp is unique")
    }

    /// Frames are built to fit by construction: the largest legal texts in every slot
    /// still encode under `ResultsSnapshot.maxFrameBytes`, keeping the newest responses.
    func testResultsFramesFitWhateverTheTextsHold() throws {
        let open = makeTally(options: 0, type: .open)
        let widest = [
            String(repeating: "🇺🇦", count: 139),  // 1,112 bytes, and a digit
            String(repeating: "\"/\\", count: 93),  // 279 characters that all escape
            String(repeating: "e" + String(repeating: "\u{0301}", count: 11), count: 48),  // 48 characters, 1,104 bytes
        ]
        for i in 0..<300 {
            let text = widest[i % 3] + (i % 3 == 2 ? "" : "\(i % 10)")
            let answer = try Answer.validated(
                choices: nil,
                text: String(text.prefix(280)),
                words: nil,
                for: Poll(
                    id: "p",
                    owner: "a",
                    type: .open,
                    title: "T",
                    options: [],
                    settings: PollSettings(),
                    createdAt: 0
                )
            )
            _ = try open.submit(participant: "p\(i)", answer: answer, allowChange: true)
            if i % 2 == 0 {
                guard case .text(let t) = answer else { continue }
                open.setModerated(t + "\(i)", hidden: true)  // the owner's list of hidden texts grows too
            }
        }
        let snapshot = open.snapshot()
        guard case .responses(let shown) = snapshot.content else { return XCTFail("not responses") }
        XCTAssertGreaterThan(shown.count, 20, "as many as fit")
        XCTAssertLessThan(shown.count, ResultsSnapshot.newestResponses, "not all 100: they would not fit")
        for view in [true, false] {
            let frame = try JSONEncoder().encode(snapshot.frame(hidden: false, fullView: view))
            XCTAssertLessThanOrEqual(frame.count, ResultsSnapshot.maxFrameBytes, "owner view \(view)")
        }
        let newest = try XCTUnwrap(shown.first)
        XCTAssertTrue(newest.hasPrefix(widest[299 % 3].prefix(10)), "newest first")

        let cloud = makeTally(options: 0, type: .wordcloud)
        for i in 0..<200 {
            let word = String(repeating: "щ", count: 38) + String(format: "%02d", i % 100)
            _ = try cloud.submit(participant: "w\(i)", answer: .words([word]), allowChange: true)
        }
        let words = try JSONEncoder().encode(cloud.snapshot().frame(hidden: false, fullView: true))
        XCTAssertLessThanOrEqual(words.count, ResultsSnapshot.maxFrameBytes)
    }

    /// Once `retire` returns, no answer is counted any more: one either counted before
    /// (and shows in `total`) or is refused; threads racing with it cannot slip in.
    func testRetireIsABarrierForConcurrentAnswers() throws {
        let tally = makeTally(options: 2)
        let started = DispatchSemaphore(value: 0)
        let refused = Locked(0)
        let group = DispatchGroup()
        for t in 0..<4 {
            DispatchQueue.global().async(
                group: group,
                execute: DispatchWorkItem {
                    started.signal()
                    for i in 0..<2_000 {
                        do {
                            _ = try tally.submit(
                                participant: "t\(t)-\(i)",
                                answer: .choices([i % 2]),
                                allowChange: true
                            )
                        } catch {
                            XCTAssertEqual((error as? PollcastError)?.code, .notActive)
                            refused.withLock { $0 += 1 }
                        }
                    }
                }
            )
        }
        for _ in 0..<4 { started.wait() }
        tally.retire()
        let totalAtRetire = tally.total
        group.wait()
        XCTAssertEqual(tally.total, totalAtRetire, "nothing counted after retire returned")
        XCTAssertEqual(totalAtRetire + refused.withLock { $0 }, 8_000, "every answer either counted or refused")
        tally.unretire()
        XCTAssertNoThrow(try tally.submit(participant: "late", answer: .choices([0]), allowChange: true))
    }

    /// The word cloud's one-pass top 50 is exactly a full sort's first 50, ties included.
    /// The open poll's frame takes each shard's newest visible responses, not a sort of
    /// all of them: it must still be exactly the newest 100 visible, also when one hidden
    /// text was sent by hundreds.
    func testNewestResponsesMatchAFullSortWithHiddenSpam() throws {
        let poll = Poll(
            id: "o",
            owner: "a",
            type: .open,
            title: "T",
            options: [],
            settings: PollSettings(),
            createdAt: 0
        )
        let tally = AnswerTally(of: poll, round: 1, clock: ChangeClock())
        var sent: [String] = []
        for i in 0..<3000 {
            let text = i % 3 == 0 ? "spam" : "answer \(i) 🧪"
            _ = try tally.submit(participant: "p\(i)", answer: .text(text), name: nil, allowChange: true)
            sent.append(text)
        }
        tally.setModerated("spam", hidden: true)
        let expected = Array(sent.reversed().filter { $0 != "spam" }.prefix(100))
        guard case .responses(let shown) = tally.snapshot().content else { return XCTFail("not an open frame") }
        XCTAssertEqual(shown, expected)
    }

    func testTopWordsMatchAFullSort() throws {
        var counts: [String: Int] = [:]
        for i in 0..<5_000 { counts["w\(i)"] = Int.random(in: 1...40) }
        let sorted = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(50)
        let top = AnswerTally.top(50, of: counts)
        XCTAssertEqual(top.map(\.key), sorted.map(\.key))
        XCTAssertEqual(top.map(\.value), sorted.map(\.value))
        XCTAssertEqual(AnswerTally.top(50, of: ["a": 1, "b": 2]).map(\.key), ["b", "a"])
    }

    /// Made-up participant ids cannot grow the answer limiter past its capacity, and a
    /// participant's budget is its own.
    func testKeyedRateLimiterIsBoundedAndPerKey() {
        let limiter = KeyedRateLimiter(rate: 1, burst: 2, capacity: 100)
        for i in 0..<1_000 { XCTAssertTrue(limiter.take("id-\(i)", now: 0)) }
        XCTAssertLessThanOrEqual(limiter.count, 100)
        XCTAssertTrue(limiter.take("same", now: 0))
        XCTAssertTrue(limiter.take("same", now: 0))
        XCTAssertFalse(limiter.take("same", now: 0), "burst of 2 spent")
        XCTAssertTrue(limiter.take("other", now: 0), "another participant is not slowed")
        XCTAssertTrue(limiter.take("same", now: 1), "one token a second refills")
    }
}
