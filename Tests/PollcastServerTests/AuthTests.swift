import Foundation
import XCTest

/// Every control and results route refuses a caller without auth, and another presenter.
final class AuthTests: XCTestCase {
    static func ownerRoutes(_ id: String) -> [(String, String)] {
        [
            ("GET", "/api/polls"), ("GET", "/api/polls/\(id)"), ("PATCH", "/api/polls/\(id)"),
            ("DELETE", "/api/polls/\(id)"),
            ("GET", "/api/polls/\(id)/results"), ("GET", "/api/polls/\(id)/results?round=1"),
            ("GET", "/api/polls/\(id)/export.csv"), ("GET", "/api/export.csv?polls=\(id)"), ("GET", "/api/me"),
            ("GET", "/api/polls/\(id)/responses"), ("POST", "/api/polls/\(id)/display"), ("POST", "/api/password"),
        ]
            + ["activate", "deactivate", "hide", "show", "lock", "unlock", "clear", "reveal"].map {
                ("POST", "/api/polls/\(id)/\($0)")
            }
    }

    func testControlRoutesCheckTheOwner() throws {
        try withServer { s in
            let alice = try s.presenter("alice")
            let mallory = try s.presenter("mallory")
            let poll = try s.createPoll(alice, ["type": "choice", "title": "Mine", "options": ["a", "b"]])
            for (method, path) in Self.ownerRoutes(poll) {
                let body: [String: Any]? =
                    method == "PATCH"
                    ? ["title": "stolen"] : path.hasSuffix("/display") ? ["chart": "pie"] : nil
                let anonymous = try TestHTTP.json(port: s.port, method, path, body)
                XCTAssertEqual(anonymous.status, 401, "\(method) \(path) without auth")
                XCTAssertEqual(anonymous.errorCode, "unauthenticated")
                let forged = try TestHTTP.json(port: s.port, method, path, token: "not-a-real-token", body)
                XCTAssertEqual(forged.status, 401, "\(method) \(path) with a forged token")
                guard path != "/api/polls", path != "/api/me", path != "/api/password" else { continue }
                let other = try TestHTTP.json(port: s.port, method, path, token: mallory, body)
                XCTAssertEqual(other.status, 404, "\(method) \(path) as another presenter: \(other.text)")
            }
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/polls", token: mallory).jsonArray.count, 0)
            let poll2 = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)", token: alice).json
            XCTAssertEqual(poll2["title"] as? String, "Mine", "nothing above changed the poll")
            XCTAssertEqual(poll2["active"] as? Bool, false)

            // A console socket needs the owner's session.
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/alice?role=console"))
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/alice?role=console&token=\(mallory)"))
            XCTAssertNoThrow(try TestWebSocket(port: s.port, path: "/ws/alice?role=console&token=\(alice)"))
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/nosuchroom?role=screen"))
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/alice?role=king"))
        }
    }

    func testCookieSessionsNeedCSRFAndLogoutEndsTheToken() throws {
        try withServer { s in
            try s.server.accounts.createAccount(username: "erin", password: "open sesame 1")
            let login = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/login",
                ["username": "erin", "password": "open sesame 1"]
            )
            XCTAssertEqual(login.status, 200)
            let cookie = try XCTUnwrap(login.headers["set-cookie"])
            XCTAssertTrue(cookie.contains("HttpOnly"))
            let session = String(cookie.split(separator: ";")[0])
            let csrf = try XCTUnwrap(login.json["csrf"] as? String)
            let token = try XCTUnwrap(login.json["token"] as? String)

            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "GET", "/api/polls", headers: ["Cookie": session]).status,
                200
            )
            let body: [String: Any] = ["type": "choice", "title": "T", "options": ["a", "b"]]
            let noCSRF = try TestHTTP.json(port: s.port, "POST", "/api/polls", headers: ["Cookie": session], body)
            XCTAssertEqual(noCSRF.status, 403)
            let crossSite = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls",
                headers: ["Cookie": session, "Origin": "http://evil.example"],
                body
            )
            XCTAssertEqual(crossSite.status, 403)
            let withCSRF = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls",
                headers: ["Cookie": session, "X-CSRF-Token": csrf],
                body
            )
            XCTAssertEqual(withCSRF.status, 201)
            let sameOrigin = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls",
                headers: ["Cookie": session, "Origin": "http://127.0.0.1:\(s.port)"],
                body
            )
            XCTAssertEqual(sameOrigin.status, 201)

            XCTAssertEqual(try TestHTTP.json(port: s.port, "POST", "/api/logout", token: token).status, 204)
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: token).status, 401)
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", headers: ["Cookie": session]).status, 401)
        }
    }

    func testFailedLoginsAreThrottledAndLoginLinksWorkOnce() throws {
        try withServer { s in
            try s.server.accounts.createAccount(username: "frank", password: "right password")
            let wrong = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/login",
                ["username": "frank", "password": "nope nope"]
            )
            XCTAssertEqual(wrong.status, 401)
            for _ in 0..<9 {
                _ = try TestHTTP.json(port: s.port, "POST", "/api/login", ["username": "frank", "password": "x"])
            }
            let throttled = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/login",
                ["username": "frank", "password": "right password"]
            )
            XCTAssertEqual(throttled.status, 429, "even the right password waits after 10 failures")
            XCTAssertEqual(throttled.errorCode, "rate_limited")

            let link = try s.server.accounts.createLoginLink(username: "frank")
            let first = try TestHTTP.request(port: s.port, "GET", "/login?link=\(link)")
            XCTAssertEqual(first.status, 303)
            XCTAssertEqual(first.headers["location"], "/admin")
            XCTAssertTrue(first.headers["set-cookie"]?.contains("pollcast_session=") ?? false)
            let reused = try TestHTTP.request(port: s.port, "GET", "/login?link=\(link)")
            XCTAssertEqual(reused.status, 401, "a link works once")
            XCTAssertNil(reused.headers["set-cookie"])
        }
    }
}
