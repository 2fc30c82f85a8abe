import Foundation
import Logging
import PollcastApp
import PollcastCore

/// With a shared store, keeps this node in step with the others, on a thread of its own
/// (never the service thread). It wakes as soon as there is something to do, but runs
/// at most once a tick, so a burst of commits costs one round per tick, and a quiet
/// room hears of an answer on another node at once, not a tick later:
///
/// - announces the polls this node committed answers to since the last tick, one
///   notification per poll per tick, however many batches it committed;
/// - applies what the listener heard since the last tick: rooms reloaded, tallies
///   brought up to date, sessions and accounts re-read, SMS keywords re-read.
///
/// What could not be read (the database is down) stays pending and is tried next tick.
final class ClusterFollower: Sendable {
    private struct Pending {
        var heard: Set<StoreChange> = []
        var committed: Set<String> = []
        var stopping = false
    }

    private let shared: any SharedStorage
    private let polls: PollService
    private let accounts: AccountService
    private let sms: TextMessageGateway?
    private let metrics: ServerMetrics
    private let tick: Double
    private let logger: Logger
    private let pending = Locked(Pending())
    /// Signalled when something arrives (a notification, a commit, stop).
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(
        shared: any SharedStorage,
        polls: PollService,
        accounts: AccountService,
        sms: TextMessageGateway?,
        metrics: ServerMetrics,
        tickMilliseconds: Int,
        logger: Logger
    ) {
        self.shared = shared
        self.polls = polls
        self.accounts = accounts
        self.sms = sms
        self.metrics = metrics
        self.tick = Double(max(tickMilliseconds, 5)) / 1000
        self.logger = logger
    }

    func start() {
        let pending = self.pending
        let metrics = self.metrics
        let wake = self.wake
        shared.listen { change in
            metrics.add(metrics.notificationsReceived)
            pending.withLock { _ = $0.heard.insert(change) }
            wake.signal()
        }
        let thread = Thread { [self] in run() }
        thread.name = "pollcast-follow"
        thread.start()
    }

    /// This node committed answers to these polls (the writer thread, after a commit).
    func committed(_ pollIDs: some Sequence<String>) {
        pending.withLock { $0.committed.formUnion(pollIDs) }
        wake.signal()
    }

    /// Announces what is left, stops the thread and the listener. Returns when done.
    func stop() {
        pending.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
        shared.close()
    }

    private func run() {
        var failing = false
        /// Poll to when this node last announced it; deferred: committed, not yet announced.
        var announced: [String: Double] = [:]
        var deferred: Set<String> = []
        /// Once a second the active polls are read again whatever was heard: a node that
        /// died between a commit and its announcement leaves no one else to announce it.
        var lastSweep = monotonicSeconds()
        while true {
            let before = monotonicSeconds()
            let due = deferred.map { (announced[$0] ?? 0) + tick }.min() ?? before + tick
            _ = wake.wait(timeout: .now() + max(0, min(tick, due - before)))
            // One round takes everything that arrived; the signals it leaves are spent.
            while wake.wait(timeout: .now()) == .success {}
            let now = monotonicSeconds()
            var (heard, committed, stopping) = pending.withLock { p in
                defer {
                    p.heard.removeAll(keepingCapacity: true)
                    p.committed.removeAll(keepingCapacity: true)
                }
                return (p.heard, p.committed, p.stopping)
            }
            deferred.formUnion(committed)
            if now - lastSweep >= 1 {
                lastSweep = now
                // A failed read is tried again at the next sweep.
                do { heard.formUnion(try polls.pollsBehind().map { StoreChange.results($0) }) } catch {}
            }
            // At most one notification per poll per tick from this node; a poll quiet for
            // a tick is announced at once.
            let ready = stopping ? deferred : deferred.filter { (announced[$0] ?? 0) + tick <= now }
            var unsent = false
            if !ready.isEmpty {
                do {
                    try shared.announce(Set(ready.map { StoreChange.results($0) }))
                    deferred.subtract(ready)
                } catch {
                    unsent = true
                }
                // Also after a failure: tried again a tick later, not in a busy loop.
                for id in ready { announced[id] = now }
            }
            announced = announced.filter { now - $0.value < tick }
            var retry: Set<StoreChange> = []
            if heard.contains(.accounts) || heard.contains(.everything) {
                do { polls.addRooms(try accounts.refresh()) } catch { retry.insert(.accounts) }
            }
            if heard.contains(.keywords) || heard.contains(.everything) {
                do { try sms?.reloadKeywords() } catch { retry.insert(.keywords) }
            }
            retry.formUnion(polls.follow(heard))
            let failed = !retry.isEmpty || unsent
            if failed != failing {
                failing = failed
                if failing {
                    logger.error("cannot follow the shared store; retrying every tick")
                } else {
                    logger.info("following the shared store again")
                }
            }
            if stopping { break }
            // Tried again next round, which comes within a tick (nothing signals it).
            if !retry.isEmpty { pending.withLock { $0.heard.formUnion(retry) } }
        }
        finished.signal()
    }
}
