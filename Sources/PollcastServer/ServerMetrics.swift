import Synchronization

/// Counters for `/metrics`, updated from any thread.
final class ServerMetrics: Sendable {
    let connectionsOpened = Atomic<Int>(0)
    let connectionsOpen = Atomic<Int>(0)
    let connectionsRefused = Atomic<Int>(0)
    let answersReceived = Atomic<Int>(0)
    let answersAcked = Atomic<Int>(0)
    let answersFailed = Atomic<Int>(0)
    let answersRefused = Atomic<Int>(0)
    let resultsFramesSent = Atomic<Int>(0)
    let framesSent = Atomic<Int>(0)
    let httpRequests = Atomic<Int>(0)
    /// Client frames (or HTTP requests) over a connection's budget, answered `rate_limited`.
    let framesRefused = Atomic<Int>(0)
    /// Connections closed for leaving more than the cap of replies unread.
    let connectionsOverflowed = Atomic<Int>(0)
    /// Frames too large to send (none should be: frames are built to fit).
    let framesDropped = Atomic<Int>(0)
    /// HTTP connections closed for a body that did not arrive in time, or a bad length.
    let requestsAborted = Atomic<Int>(0)
    let loginsRefused = Atomic<Int>(0)
    let ticks = Atomic<Int>(0)
    /// Ticks that came too late to run on time and were skipped (the loop was busy).
    let ticksSkipped = Atomic<Int>(0)
    /// Shared store: changes other nodes (and this one) announced, as heard here.
    let notificationsReceived = Atomic<Int>(0)

    func add(_ counter: borrowing Atomic<Int>, _ n: Int = 1) {
        counter.wrappingAdd(n, ordering: .relaxed)
    }

    /// Prometheus text format.
    func render(commits: Int, committedAnswers: Int) -> String {
        let rows: [(String, String, Int)] = [
            ("pollcast_connections_opened_total", "counter", connectionsOpened.load(ordering: .relaxed)),
            ("pollcast_connections_open", "gauge", connectionsOpen.load(ordering: .relaxed)),
            ("pollcast_connections_refused_total", "counter", connectionsRefused.load(ordering: .relaxed)),
            ("pollcast_answers_received_total", "counter", answersReceived.load(ordering: .relaxed)),
            ("pollcast_answers_acked_total", "counter", answersAcked.load(ordering: .relaxed)),
            ("pollcast_answers_failed_total", "counter", answersFailed.load(ordering: .relaxed)),
            ("pollcast_answers_refused_total", "counter", answersRefused.load(ordering: .relaxed)),
            ("pollcast_results_frames_sent_total", "counter", resultsFramesSent.load(ordering: .relaxed)),
            ("pollcast_ws_frames_sent_total", "counter", framesSent.load(ordering: .relaxed)),
            ("pollcast_http_requests_total", "counter", httpRequests.load(ordering: .relaxed)),
            ("pollcast_frames_refused_total", "counter", framesRefused.load(ordering: .relaxed)),
            ("pollcast_connections_overflowed_total", "counter", connectionsOverflowed.load(ordering: .relaxed)),
            ("pollcast_frames_dropped_total", "counter", framesDropped.load(ordering: .relaxed)),
            ("pollcast_http_requests_aborted_total", "counter", requestsAborted.load(ordering: .relaxed)),
            ("pollcast_logins_refused_total", "counter", loginsRefused.load(ordering: .relaxed)),
            ("pollcast_ticks_total", "counter", ticks.load(ordering: .relaxed)),
            ("pollcast_ticks_skipped_total", "counter", ticksSkipped.load(ordering: .relaxed)),
            ("pollcast_store_notifications_received_total", "counter", notificationsReceived.load(ordering: .relaxed)),
            ("pollcast_store_commits_total", "counter", commits),
            ("pollcast_store_answers_committed_total", "counter", committedAnswers),
        ]
        return rows.map { "# TYPE \($0.0) \($0.1)\n\($0.0) \($0.2)\n" }.joined()
    }
}
