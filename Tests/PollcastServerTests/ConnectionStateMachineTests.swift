import XCTest

@testable import PollcastServer

/// The order in which a connection's frames leave, checked without a socket: each test
/// feeds events to `ConnectionStateMachine` and reads back every write until it idles.
final class ConnectionStateMachineTests: XCTestCase {
    private func frame(_ seq: UInt64) -> EncodedFrame { EncodedFrame(bytes: Array("r\(seq)".utf8), seq: seq) }
    private func reply(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Every write until there is nothing left, as short words: "state", "reply:ack1",
    /// "results:7", "close:1001", "hang-up". Stops after a hang-up.
    private func drain(_ life: inout ConnectionStateMachine) -> [String] {
        var writes: [String] = []
        while let write = life.nextWrite() {
            switch write {
            case .state: writes.append("state")
            case .reply(let bytes): writes.append("reply:" + String(decoding: bytes, as: UTF8.self))
            case .results(let frame): writes.append("results:\(frame.seq)")
            case .close(let close): writes.append("close:\(close.status)")
            case .hangUp:
                writes.append("hang-up")
                return writes
            }
        }
        XCTAssertFalse(life.wantsWrite, "nothing to write, so no writeable is asked for")
        return writes
    }

    func testAParticipantGetsNothingButRepliesBeforeHelloThenStateBeforeEverything() {
        var life = ConnectionStateMachine(role: .participant)
        XCTAssertEqual(life.state, .joining)
        XCTAssertFalse(life.offer(frame(5), showToParticipants: true), "no results before hello")
        XCTAssertEqual(life.queue(reply("error1"), limit: 1000), .queued)
        XCTAssertEqual(drain(&life), ["reply:error1"])

        // The results frame is offered before the greeting's state is written, and a
        // reply queued after: the state still goes first, then the reply, then results.
        XCTAssertTrue(life.greet())
        XCTAssertFalse(life.greet(), "a second hello greets nobody")
        XCTAssertTrue(life.offer(frame(6), showToParticipants: true))
        XCTAssertEqual(life.queue(reply("ack1"), limit: 1000), .queued)
        XCTAssertTrue(life.wantsWrite)
        XCTAssertEqual(drain(&life), ["state", "reply:ack1", "results:6"])
    }

    func testOnlyTheNewestResultsLeaveAndNeverAnOlderOne() {
        var life = ConnectionStateMachine(role: .screen)
        XCTAssertTrue(life.greet())
        for seq: UInt64 in [3, 9, 7] { _ = life.offer(frame(seq), showToParticipants: false) }
        XCTAssertEqual(drain(&life), ["state", "results:7"], "a slow reader gets the last offered, not a backlog")
        XCTAssertEqual(life.lastResultsSeq, 7)
        XCTAssertFalse(life.offer(frame(7), showToParticipants: false), "the frame it already has")
        XCTAssertFalse(life.offer(frame(2), showToParticipants: false), "an older frame")
        XCTAssertTrue(life.offer(frame(8), showToParticipants: false))
        XCTAssertEqual(drain(&life), ["results:8"])
    }

    func testParticipantsTakeResultsOnlyWhenThePollSharesThem() {
        var participant = ConnectionStateMachine(role: .participant)
        var screen = ConnectionStateMachine(role: .screen)
        _ = participant.greet()
        _ = screen.greet()
        XCTAssertFalse(participant.offer(frame(4), showToParticipants: false))
        XCTAssertTrue(screen.offer(frame(4), showToParticipants: false))
        XCTAssertEqual(drain(&participant), ["state"])
        XCTAssertEqual(drain(&screen), ["state", "results:4"])
    }

    func testARoomChangeDropsResultsMadeBeforeItAndSendsStateAgain() {
        var life = ConnectionStateMachine(role: .screen)
        _ = life.greet()
        XCTAssertEqual(drain(&life), ["state"])
        _ = life.offer(frame(10), showToParticipants: false)
        // Hidden between the tick and the write: the frame made before must not leave.
        XCTAssertTrue(life.roomChanged())
        XCTAssertEqual(drain(&life), ["state"])
        XCTAssertTrue(life.offer(frame(11), showToParticipants: false))
        XCTAssertEqual(drain(&life), ["results:11"])

        var unGreeted = ConnectionStateMachine(role: .participant)
        XCTAssertFalse(unGreeted.roomChanged(), "no state before hello, room change or not")
        XCTAssertEqual(drain(&unGreeted), [])
    }

    func testClosingSendsQueuedAcksThenTheCloseFrameAndNothingNew() {
        var life = ConnectionStateMachine(role: .participant)
        _ = life.greet()
        _ = life.offer(frame(3), showToParticipants: true)
        XCTAssertEqual(life.queue(reply("ack1"), limit: 1000), .queued)
        XCTAssertTrue(life.close(.init(status: 1001, reason: "server restarting")))
        XCTAssertFalse(life.close(.init(status: 1008, reason: "later")), "the first close stands")
        XCTAssertFalse(life.readsMessages)
        // An ack for an answer sent before the close still leaves; results and state do not.
        XCTAssertEqual(life.queue(reply("ack2"), limit: 1000), .queued)
        XCTAssertFalse(life.offer(frame(4), showToParticipants: true))
        XCTAssertFalse(life.roomChanged())
        XCTAssertEqual(drain(&life), ["reply:ack1", "reply:ack2", "close:1001", "hang-up"])
        XCTAssertEqual(life.queue(reply("ack3"), limit: 1000), .ignored, "nothing after the close frame")
    }

    func testAConsoleWhoseSessionEndedGetsNoPendingResultsOrState() {
        var life = ConnectionStateMachine(role: .console)
        _ = life.greet()
        _ = life.offer(frame(20), showToParticipants: false)
        _ = life.close(.init(status: 1008, reason: "your session ended; log in again"))
        XCTAssertEqual(drain(&life), ["close:1008", "hang-up"])
    }

    func testUnreadRepliesPastTheCapDropEverythingAndClose() {
        var life = ConnectionStateMachine(role: .participant)
        _ = life.greet()
        _ = life.offer(frame(1), showToParticipants: true)
        XCTAssertEqual(life.queue(reply("0123456789"), limit: 25), .queued)
        XCTAssertEqual(life.queue(reply("0123456789"), limit: 25), .queued)
        XCTAssertEqual(life.queue(reply("0123456789"), limit: 25), .overflowed, "30 bytes unread, over 25")
        XCTAssertTrue(life.isOverflowed)
        XCTAssertFalse(life.readsMessages)
        XCTAssertEqual(life.queue(reply("x"), limit: 25), .ignored)
        XCTAssertFalse(life.close(.init(status: 1001, reason: "server restarting")))
        XCTAssertEqual(drain(&life), ["close:1008", "hang-up"], "no queued reply, no state, no results")
    }

    func testADrainingConnectionKeepsItsCloseCodeWhenItsAcksPileUp() {
        var life = ConnectionStateMachine(role: .participant)
        _ = life.greet()
        _ = life.close(.init(status: 1001, reason: "server restarting"))
        XCTAssertEqual(life.queue(reply("0123456789"), limit: 5), .overflowed)
        XCTAssertEqual(drain(&life), ["close:1001", "hang-up"])
    }

    func testReplyQueueCountsBytesAndKeepsOrderAcrossCompaction() {
        var queue = ReplyQueue()
        for i in 0..<200 { queue.append(Array("\(i)".utf8)) }
        var seen: [String] = []
        for _ in 0..<150 { seen.append(String(decoding: queue.popFirst() ?? [], as: UTF8.self)) }
        for i in 200..<210 { queue.append(Array("\(i)".utf8)) }
        while let next = queue.popFirst() { seen.append(String(decoding: next, as: UTF8.self)) }
        XCTAssertEqual(seen, (0..<210).map(String.init))
        XCTAssertEqual(queue.bytes, 0)
        XCTAssertTrue(queue.isEmpty)
    }
}
