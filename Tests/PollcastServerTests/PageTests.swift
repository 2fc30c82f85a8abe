import Foundation
import XCTest

@testable import PollcastServer

/// Pages, their security headers, and the QR code of a room.
final class PageTests: XCTestCase {
    func testPagesCarryTheSecurityHeaders() throws {
        try withServer { s in
            _ = try s.presenter("alice")
            for path in ["/", "/login", "/admin", "/alice", "/present/alice"] {
                let page = try TestHTTP.request(port: s.port, "GET", path)
                XCTAssertEqual(page.status, 200, path)
                XCTAssertTrue(page.headers["content-type"]?.hasPrefix("text/html") ?? false, path)
                let csp = try XCTUnwrap(page.headers["content-security-policy"], path)
                XCTAssertTrue(csp.contains("script-src 'self'"), path)
                XCTAssertFalse(csp.contains("unsafe-inline"), path)
                XCTAssertTrue(csp.contains("frame-ancestors 'none'"), path)
                XCTAssertEqual(page.headers["x-frame-options"], "DENY", path)
                XCTAssertEqual(page.headers["x-content-type-options"], "nosniff", path)
                XCTAssertFalse(page.text.contains("<script>"), "no inline script in \(path)")
            }
            let embed = try TestHTTP.request(port: s.port, "GET", "/present/alice?embed=1")
            XCTAssertTrue(embed.headers["content-security-policy"]?.contains("frame-ancestors *") ?? false)
            XCTAssertNil(embed.headers["x-frame-options"], "only the embed view may be framed")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/nobody").status, 404)
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/present/nobody").status, 404)
            let script = try TestHTTP.request(port: s.port, "GET", "/static/js/participant.js")
            XCTAssertTrue(script.headers["content-type"]?.hasPrefix("text/javascript") ?? false)
        }
    }

    func testQRCodeOfTheJoinAddress() throws {
        try withServer { s in
            _ = try s.presenter("alice")
            let qr = try TestHTTP.request(port: s.port, "GET", "/qr/alice.svg")
            XCTAssertEqual(qr.status, 200)
            XCTAssertEqual(qr.headers["content-type"], "image/svg+xml")
            XCTAssertTrue(qr.text.hasPrefix("<svg"))
            XCTAssertGreaterThan(qr.text.components(separatedBy: "h").count, 50, "a real pattern of modules")
            // The Host header is not what the code encodes.
            let odd = try TestHTTP.request(
                port: s.port,
                "GET",
                "/qr/alice.svg",
                headers: ["Host": "evil\"><script>alert(1)</script>"]
            )
            XCTAssertEqual(odd.status, 200)
            XCTAssertEqual(
                qr.text,
                JoinQRCode.svg(for: "http://127.0.0.1:\(s.port)/alice"),
                "the code of the server's address (tests bind loopback)"
            )
            XCTAssertEqual(odd.text, qr.text, "the Host header does not decide the address")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/qr/nobody.svg").status, 404)
        }
    }

    /// HEAD answers what GET would, with the headers only: same status and length, no body.
    func testHeadSendsTheHeadersOfGetAndNoBody() throws {
        try withServer { s in
            _ = try s.presenter("alice")
            for path in [
                "/", "/alice", "/present/alice", "/healthz", "/static/style.css", "/api/rooms/alice", "/nobody",
            ] {
                let get = try TestHTTP.request(port: s.port, "GET", path)
                let head = try TestHTTP.request(port: s.port, "HEAD", path)
                XCTAssertEqual(head.status, get.status, path)
                XCTAssertEqual(head.headers["content-length"], String(get.body.count), path)
                XCTAssertEqual(head.body.count, 0, "HEAD \(path) sent a body")
            }
        }
    }
}
