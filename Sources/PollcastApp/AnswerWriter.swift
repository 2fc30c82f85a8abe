import Dispatch
import Foundation
import PollcastCore
import Synchronization

/// Makes answers durable on its own thread with group commit: everything queued while
/// one transaction commits goes into the next one, so a burst of a thousand answers
/// costs a handful of commits. `onCommit` runs on the writer thread after each
/// transaction with the tickets of that batch and what the store decided for each (or
/// the error if the commit failed); the caller acks (or refuses) exactly those answers.
public final class AnswerWriter<Ticket: Sendable>: Sendable {
    private struct Queue {
        var items: [(StoredAnswer, Ticket)] = []
        var stopping = false
    }

    private let store: any AnswerLog
    private let onCommit: @Sendable ([Ticket], Result<[AnswerVerdict], StoreError>) -> Void
    /// Told each commit's batch size and duration in seconds (for the metrics).
    private let measure: @Sendable (Int, Double) -> Void
    /// Guarded by itself: what waits for the writer thread.
    private let queue = Locked(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Counters for /metrics and the bench.
    private let commits = Atomic<Int>(0)
    private let committedAnswers = Atomic<Int>(0)

    public init(
        store: any AnswerLog,
        measure: @escaping @Sendable (Int, Double) -> Void = { _, _ in },
        onCommit: @escaping @Sendable ([Ticket], Result<[AnswerVerdict], StoreError>) -> Void
    ) {
        self.store = store
        self.measure = measure
        self.onCommit = onCommit
    }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "pollcast-writer"
        thread.start()
    }

    /// Queues one answer; any thread. Only the answer that finds the queue empty wakes
    /// the writer: it takes the whole queue when it wakes, so a burst of N answers is one
    /// wake-up, not N (of which N-1 found nothing to do).
    public func submit(_ answer: StoredAnswer, ticket: Ticket) {
        let first = queue.withLock { q in
            q.items.append((answer, ticket))
            return q.items.count == 1
        }
        if first { wake.signal() }
    }

    /// Commits everything queued, then stops the thread. Returns when it has.
    public func stop() {
        queue.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    public var stats: (commits: Int, answers: Int) {
        (commits.load(ordering: .relaxed), committedAnswers.load(ordering: .relaxed))
    }

    private func run() {
        while true {
            wake.wait()
            let (batch, stopping) = queue.withLock { q in
                defer { q.items.removeAll(keepingCapacity: true) }
                return (q.items, q.stopping)
            }
            if !batch.isEmpty {
                let result: Result<[AnswerVerdict], StoreError>
                do {
                    let started = monotonicSeconds()
                    result = .success(try store.commitAnswers(batch.map(\.0)))
                    measure(batch.count, monotonicSeconds() - started)
                    commits.wrappingAdd(1, ordering: .relaxed)
                    committedAnswers.wrappingAdd(batch.count, ordering: .relaxed)
                } catch {
                    result = .failure(error)
                }
                onCommit(batch.map(\.1), result)
            }
            if stopping && queue.withLock({ $0.items.isEmpty }) { break }
        }
        finished.signal()
    }
}
