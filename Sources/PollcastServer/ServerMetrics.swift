import Foundation
import PollcastApp
import PollcastCore
import Prometheus

/// What `/metrics` shows, kept by swift-prometheus: counters, gauges and histograms
/// updated from any thread (each is lock-free or behind its own small lock), written in
/// Prometheus' text format on request. docs/metrics.md names every series.
///
/// Each node has its own: scrape every node (the `instance` label tells them apart), and
/// `pollcast_node_info` says which store the node uses.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    let connectionsOpened: Counter
    let connectionsRefused: Counter
    /// Open WebSocket connections by role.
    private let open: [ConnectionRole: Gauge]
    let answersReceived: Counter
    let answersAcked: Counter
    /// Answers the store could not make durable (the client was told `unavailable`).
    let answersFailed: Counter
    /// Answers refused by a rule, by error code.
    private let refused: [ErrorCode: Counter]
    /// Receive to durable: from the frame or request to the commit that made it durable.
    let ackLatency: DurationHistogram
    let commitBatchSize: ValueHistogram
    let commitDuration: DurationHistogram
    let commits: Counter
    let resultsFramesSent: Counter
    /// A results frame replaced by a newer one before a slow reader could take it.
    let snapshotsSuperseded: Counter
    let framesSent: Counter
    let httpRequests: Counter
    /// Client frames (or HTTP requests) over a connection's budget, answered `rate_limited`.
    let framesRefused: Counter
    /// Connections closed for leaving more than the cap of replies unread.
    let connectionsOverflowed: Counter
    /// Frames too large to send (none should be: frames are built to fit).
    let framesDropped: Counter
    /// HTTP connections closed for a body that did not arrive in time, or a bad length.
    let requestsAborted: Counter
    let loginsRefused: Counter
    let ticks: Counter
    /// Ticks that came too late to run on time and were skipped (the loop was busy).
    let ticksSkipped: Counter
    /// Shared store: changes other nodes (and this one) announced, as heard here.
    let notificationsReceived: Counter

    init(store: String) {
        let r = registry
        connectionsOpened = r.makeCounter(
            descriptor: Self.named("pollcast_connections_opened_total", "WebSocket connections accepted since start")
        )
        connectionsRefused = r.makeCounter(
            descriptor: Self.named(
                "pollcast_connections_refused_total",
                "WebSocket handshakes refused (unknown room, too many screens, full, draining)"
            )
        )
        open = Dictionary(
            uniqueKeysWithValues: ConnectionRole.allCases.map { role in
                (
                    role,
                    r.makeGauge(
                        descriptor: Self.named("pollcast_connections_open", "Open WebSocket connections by role"),
                        labels: [("role", role.rawValue)]
                    )
                )
            }
        )
        answersReceived = r.makeCounter(
            descriptor: Self.named("pollcast_answers_received_total", "Answers received over WebSocket, HTTP and SMS")
        )
        answersAcked = r.makeCounter(
            descriptor: Self.named("pollcast_answers_acked_total", "Answers acked once durable")
        )
        answersFailed = r.makeCounter(
            descriptor: Self.named(
                "pollcast_answers_failed_total",
                "Answers the store could not make durable (told unavailable, never acked)"
            )
        )
        refused = Dictionary(
            uniqueKeysWithValues: ErrorCode.allCases.map { code in
                (
                    code,
                    r.makeCounter(
                        descriptor: Self.named(
                            "pollcast_answers_refused_total",
                            "Answers refused by a rule, by error code"
                        ),
                        labels: [("code", code.rawValue)]
                    )
                )
            }
        )
        ackLatency = r.makeDurationHistogram(
            descriptor: Self.named(
                "pollcast_answer_ack_seconds",
                "From an answer's arrival to the commit that made it durable"
            ),
            buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].map { Duration.milliseconds($0) }
        )
        commitBatchSize = r.makeValueHistogram(
            descriptor: Self.named("pollcast_store_commit_batch_size", "Answers per group commit"),
            buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
        )
        commitDuration = r.makeDurationHistogram(
            descriptor: Self.named("pollcast_store_commit_seconds", "How long one group commit took"),
            buckets: [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].map { Duration.milliseconds($0) }
        )
        commits = r.makeCounter(descriptor: Self.named("pollcast_store_commits_total", "Group commits of answers"))
        resultsFramesSent = r.makeCounter(
            descriptor: Self.named("pollcast_results_frames_sent_total", "Results frames written to sockets")
        )
        snapshotsSuperseded = r.makeCounter(
            descriptor: Self.named(
                "pollcast_results_superseded_total",
                "Results frames replaced by a newer one before a slow reader took them"
            )
        )
        framesSent = r.makeCounter(descriptor: Self.named("pollcast_ws_frames_sent_total", "WebSocket frames written"))
        httpRequests = r.makeCounter(descriptor: Self.named("pollcast_http_requests_total", "HTTP requests received"))
        framesRefused = r.makeCounter(
            descriptor: Self.named(
                "pollcast_frames_refused_total",
                "Client frames or HTTP requests over their connection's budget"
            )
        )
        connectionsOverflowed = r.makeCounter(
            descriptor: Self.named(
                "pollcast_connections_overflowed_total",
                "Connections closed for leaving too many replies unread"
            )
        )
        framesDropped = r.makeCounter(
            descriptor: Self.named("pollcast_frames_dropped_total", "Frames too large to send (should stay 0)")
        )
        requestsAborted = r.makeCounter(
            descriptor: Self.named(
                "pollcast_http_requests_aborted_total",
                "HTTP connections closed for a bad or late body"
            )
        )
        loginsRefused = r.makeCounter(descriptor: Self.named("pollcast_logins_refused_total", "Logins throttled (429)"))
        ticks = r.makeCounter(descriptor: Self.named("pollcast_ticks_total", "Broadcast ticks run"))
        ticksSkipped = r.makeCounter(
            descriptor: Self.named("pollcast_ticks_skipped_total", "Broadcast ticks skipped because the loop was busy")
        )
        notificationsReceived = r.makeCounter(
            descriptor: Self.named(
                "pollcast_store_notifications_received_total",
                "Shared store: change notifications heard (PostgreSQL LISTEN)"
            )
        )
        r.makeGauge(
            descriptor: Self.named(
                "pollcast_node_info",
                "1, labelled with the store this node uses (sqlite or postgresql)"
            ),
            labels: [("store", store)]
        ).set(to: 1)
    }

    /// A series' name as it is written (no namespace or unit parts), and its help line.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func add(_ counter: Counter, _ n: Int = 1) {
        counter.increment(by: Int64(n))
    }

    func opened(_ role: ConnectionRole) {
        connectionsOpened.increment()
        open[role]?.increment()
    }

    func closed(_ role: ConnectionRole) {
        open[role]?.decrement()
    }

    func refused(_ code: ErrorCode) {
        refused[code]?.increment()
    }

    /// An answer that arrived at `received` (`monotonicSeconds`) was acked now.
    func acked(receivedAt received: Double) {
        answersAcked.increment()
        ackLatency.record(.nanoseconds(Int64(max(0, monotonicSeconds() - received) * 1e9)))
    }

    func committed(batch: Int, seconds: Double) {
        commits.increment()
        commitBatchSize.record(Double(batch))
        commitDuration.record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Prometheus text format.
    func render() -> String { registry.emitToString() }
}
