import Foundation
import XCTest

@testable import PollcastServer

/// `/metrics` in Prometheus' text format (swift-prometheus): the series docs/metrics.md
/// names, with labels, and who may read them.
final class MetricsTests: XCTestCase {
    func testSeriesByRoleAndCodeAndTheAckLatency() throws {
        try withServer { s in
            let token = try s.presenter("mira")
            let poll = try s.createPoll(
                token,
                ["type": "choice", "title": "Which planet has the most moons? 🪐", "options": ["Saturn", "Jupiter"]]
            )
            try s.control(token, poll, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/mira?role=screen")
            _ = try screen.next { $0.type == "state" }
            let voter = try TestParticipant(port: s.port, room: "mira")
            XCTAssertEqual(try voter.choose(poll, [0]).type, "ack")
            try s.control(token, poll, "lock")
            XCTAssertEqual(try voter.choose(poll, [1]).errorCode, "locked")

            let text = try TestHTTP.request(port: s.port, "GET", "/metrics").text
            for line in [
                #"pollcast_connections_open{role="screen"} 1.0"#,
                #"pollcast_connections_open{role="participant"} 1.0"#,
                #"pollcast_answers_refused_total{code="locked"} 1"#,
                "pollcast_answers_acked_total 1",
                "pollcast_answer_ack_seconds_count 1",
                "pollcast_store_commit_batch_size_count 1",
                "pollcast_store_commit_seconds_count 1",
                #"pollcast_node_info{store="sqlite"} 1.0"#,
            ] {
                XCTAssertTrue(text.contains(line + "\n"), "\(line) in\n\(text)")
            }
            XCTAssertTrue(text.contains("# TYPE pollcast_answer_ack_seconds histogram"))
            XCTAssertTrue(text.contains("# HELP pollcast_answers_refused_total"))
        }
    }

    /// This machine reads `/metrics`; anyone else needs the metrics token (here the
    /// request comes through a trusted proxy that says it is from elsewhere).
    func testOnlyThisMachineOrTheTokenReadsMetrics() throws {
        let remote: (inout ServerConfig) -> Void = {
            $0.trustedProxies = [ProxyRange("127.0.0.1")].compactMap { $0 }
            $0.metricsToken = "a scraper's long secret"
        }
        try withServer(configure: remote) { s in
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/metrics").status, 200)
            let outside = ["X-Forwarded-For": "203.0.113.5"]
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/metrics", headers: outside).status, 403)
            var withToken = outside
            withToken["Authorization"] = "Bearer a scraper's long secret"
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/metrics", headers: withToken).status, 200)
            withToken["Authorization"] = "Bearer a scraper's long secreT"
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/metrics", headers: withToken).status, 403)
        }
        // A proxy on this machine (no --trusted-proxy) passes the internet's requests on
        // from loopback: a request it forwarded is not this machine's.
        try withServer { s in
            for header in ["X-Forwarded-For", "Forwarded"] {
                let proxied = try TestHTTP.request(
                    port: s.port,
                    "GET",
                    "/metrics",
                    headers: [header: "for=198.51.100.4"]
                )
                XCTAssertEqual(proxied.status, 403, header)
            }
        }
    }
}
