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
            ("pollcast_store_commits_total", "counter", commits),
            ("pollcast_store_answers_committed_total", "counter", committedAnswers),
        ]
        return rows.map { "# TYPE \($0.0) \($0.1)\n\($0.0) \($0.2)\n" }.joined()
    }
}
