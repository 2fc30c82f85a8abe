import CLibWebSockets
import Foundation
import PollcastApp
import PollcastCore

/// The encoded results of a room's active poll as last broadcast: one frame for the
/// owner's console (everything) and one for screens and participants (filtered when
/// hidden). Each is encoded once and written to every connection that gets it.
struct RoomCast {
    var pollID: String
    var round: Int
    var hidden: Bool
    var showToParticipants: Bool
    /// The tally version the frames were made from.
    var version: UInt64
    var full: EncodedFrame
    var shared: EncodedFrame
}

extension ServiceLoop {
    /// Once per tick: every room whose active poll changed gets one new frame.
    func broadcastAll() {
        for room in members.keys { broadcast(room: room) }
    }

    private func broadcast(room: String) {
        // Compared with the frame last fanned out, not with the cache: a connection that
        // joined since (its greeting builds and caches the newest cast) must not make
        // the tick think everyone already has it. It did: the screens of a room stayed
        // on the previous count whenever a console or a participant connected between
        // an answer and the tick.
        guard let cast = currentCast(room: room), cast.full !== fannedOut[room] else { return }
        fannedOut[room] = cast.full
        guard let ids = cast.showToParticipants ? members[room] : watchers[room] else { return }
        var superseded = 0
        for id in ids {
            guard let session = sockets[id] else { continue }
            let waiting = session.life.hasPendingResults
            guard
                session.life.offer(
                    session.role == .console ? cast.full : cast.shared,
                    showToParticipants: cast.showToParticipants
                )
            else { continue }
            if waiting { superseded += 1 }
            lws_callback_on_writable(session.wsi)
        }
        if superseded > 0 { metrics.add(metrics.snapshotsSuperseded, superseded) }
    }

    /// The room's current frames, re-encoded only when the tally or the poll's state moved.
    func currentCast(room: String) -> RoomCast? {
        guard let (poll, tally) = polls.activePoll(room: room) else {
            casts[room] = nil
            fannedOut[room] = nil
            return nil
        }
        if let cast = casts[room], cast.pollID == poll.id, cast.round == tally.round, cast.hidden == poll.state.hidden,
            cast.showToParticipants == poll.settings.showResultsToParticipants, cast.version == tally.version
        {
            return cast
        }
        var snapshot = tally.snapshot()
        let version = snapshot.seq
        if poll.settings.compareRounds { snapshot.baseline = polls.baseline(of: poll.id) }
        // A fresh stamp per emission: seq strictly grows for every client, across rounds and re-sends.
        snapshot.seq = polls.clock.next()
        // The owner's console sees everything (hidden results, moderated responses); the
        // room gets its own encoding unless the two are the same bytes.
        let sameForAll = !poll.state.hidden && snapshot.moderated.isEmpty
        let encoder = JSONEncoder()
        guard let full = try? encoder.encode(snapshot.frame(hidden: poll.state.hidden, fullView: true)),
            let shared = sameForAll
                ? full : try? encoder.encode(snapshot.frame(hidden: poll.state.hidden, fullView: false))
        else { return nil }
        let fullFrame = EncodedFrame(bytes: Array(full), seq: snapshot.seq)
        let cast = RoomCast(
            pollID: poll.id,
            round: tally.round,
            hidden: poll.state.hidden,
            showToParticipants: poll.settings.showResultsToParticipants,
            version: version,
            full: fullFrame,
            shared: sameForAll ? fullFrame : EncodedFrame(bytes: Array(shared), seq: snapshot.seq)
        )
        casts[room] = cast
        return cast
    }

    /// What the room shows changed: every connection gets a new `state` frame, and no
    /// results frame made before the change is written after it (hide is airtight).
    func roomChanged(_ room: String) {
        casts[room] = nil
        fannedOut[room] = nil
        for id in members[room] ?? [] {
            guard let session = sockets[id], session.life.roomChanged() else { continue }
            lws_callback_on_writable(session.wsi)
        }
        broadcast(room: room)
    }
}
