import Foundation
import Logging
import PollcastApp
import PollcastCore

/// With a shared store, keeps this node in step with the others, once a tick, on a
/// thread of its own (never the service thread):
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
        shared.listen { change in
            metrics.add(metrics.notificationsReceived)
            pending.withLock { _ = $0.heard.insert(change) }
        }
        let thread = Thread { [self] in run() }
        thread.name = "pollcast-follow"
        thread.start()
    }

    /// This node committed answers to these polls (the writer thread, after a commit).
    func committed(_ pollIDs: some Sequence<String>) {
        pending.withLock { $0.committed.formUnion(pollIDs) }
    }

    /// Announces what is left, stops the thread and the listener. Returns when done.
    func stop() {
        pending.withLock { $0.stopping = true }
        finished.wait()
        shared.close()
    }

    private func run() {
        var failing = false
        while true {
            Thread.sleep(forTimeInterval: tick)
            let (heard, committed, stopping) = pending.withLock { p in
                defer {
                    p.heard.removeAll(keepingCapacity: true)
                    p.committed.removeAll(keepingCapacity: true)
                }
                return (p.heard, p.committed, p.stopping)
            }
            var retry: Set<StoreChange> = []
            var unsent: Set<String> = []
            if !committed.isEmpty {
                do { try shared.announce(Set(committed.map { StoreChange.results($0) })) } catch {
                    unsent = committed
                }
            }
            if heard.contains(.accounts) || heard.contains(.everything) {
                do { polls.addRooms(try accounts.refresh()) } catch { retry.insert(.accounts) }
            }
            if heard.contains(.keywords) || heard.contains(.everything) {
                do { try sms?.reloadKeywords() } catch { retry.insert(.keywords) }
            }
            retry.formUnion(polls.follow(heard))
            let failed = !retry.isEmpty || !unsent.isEmpty
            if failed != failing {
                failing = failed
                if failing {
                    logger.error("cannot follow the shared store; retrying every tick")
                } else {
                    logger.info("following the shared store again")
                }
            }
            if stopping { break }
            if !retry.isEmpty || !unsent.isEmpty {
                pending.withLock { p in
                    p.heard.formUnion(retry)
                    p.committed.formUnion(unsent)
                }
            }
        }
        finished.signal()
    }
}
