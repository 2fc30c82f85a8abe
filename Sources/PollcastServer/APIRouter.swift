import Foundation
import PollcastApp
import PollcastCore

/// What handling a request produced: a response now, or later through the inbox
/// (an answer sent over HTTP is answered once it is durable).
enum RouteResult: Sendable {
    case response(HTTPResponse)
    case deferred
}

/// The HTTP API and the pages. Runs on the API dispatch queue, never on the lws
/// service thread: it may hash passwords and read or write the store.
struct APIRouter: Sendable {
    static let sessionCookie = "pollcast_session"

    let accounts: AccountService
    let polls: PollService
    /// The audience's address of this server (`PollcastServer.publicURL`).
    let publicBase: Locked<String>
    let pages: StaticFiles
    let metrics: @Sendable () -> String
    /// `/metrics` from anywhere but this machine needs `Authorization: Bearer <this>`;
    /// nil: this machine only.
    var metricsToken: String? = nil
    /// The Twilio webhook; nil when SMS is not configured (the route is then 404).
    let sms: TextMessageGateway?

    func handle(_ request: HTTPRequest) -> RouteResult {
        do {
            return try route(request)
        } catch {
            return .response(.error(error))
        }
    }

    private func route(_ request: HTTPRequest) throws(PollcastError) -> RouteResult {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let method = request.method
        switch (method, parts.first) {
        case (_, "api"):
            return try api(request, Array(parts.dropFirst()))
        case ("GET", "healthz"):
            return .response(.json(["status": "ok"]))
        case ("GET", "metrics"):
            guard metricsAllowed(request) else {
                throw PollcastError(
                    .forbidden,
                    "metrics are served to this machine, or with the metrics token (--metrics-token) from elsewhere"
                )
            }
            return .response(
                HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4", body: Array(metrics().utf8))
            )
        case ("GET", "qr") where parts.count == 2 && parts[1].hasSuffix(".svg"):
            let room = String(parts[1].dropLast(4))
            guard polls.knownRoom(room),
                let svg = JoinQRCode.svg(
                    for: joinURL(room)
                )
            else { throw PollcastError(.notFound, "no room \(room)") }
            var response = HTTPResponse(status: 200, contentType: "image/svg+xml", body: Array(svg.utf8))
            response.headers.append(("cache-control", "public, max-age=300"))
            return .response(response)
        case ("POST", "sms") where parts == ["sms", "twilio"]:
            guard let sms else {
                throw PollcastError(.notFound, "SMS is off: start with --twilio-auth-token (or --sms-insecure)")
            }
            return sms.handle(request, publicURL: publicBase.withLock { $0 })
        case ("GET", "login") where request.query["link"] != nil:
            do {
                let (token, _) = try accounts.redeemLoginLink(request.query["link"] ?? "")
                return .response(.redirect(to: "/admin", headers: [("set-cookie", sessionCookie(token, request))]))
            } catch  where error.code == .unauthenticated {
                // A used or expired link: the login page, which says what to do (not raw JSON).
                var page = try pages.page(for: ["login"], query: [:], roomExists: { _ in false })
                page.status = 401
                return .response(page)
            }
        case ("GET", _):
            return .response(try pages.page(for: parts, query: request.query, roomExists: polls.knownRoom))
        default:
            throw PollcastError(.notFound, "no route for \(method) \(request.path)")
        }
    }

    private func api(_ request: HTTPRequest, _ parts: [String]) throws(PollcastError) -> RouteResult {
        let method = request.method
        switch (method, parts.count, parts.first) {
        case ("POST", 1, "login"):
            return .response(try login(request))
        case ("POST", 1, "logout"):
            let me = try authenticate(request, mutating: true)
            try accounts.logout(me)
            var response = HTTPResponse.noContent
            response.headers.append(("set-cookie", "\(Self.sessionCookie)=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"))
            return .response(response)
        case ("GET", 1, "me"):
            let me = try authenticate(request, mutating: false)
            struct Me: Encodable {
                var username: String
                var csrf: String
                var hasPassword: Bool
            }
            return .response(
                .json(
                    Me(
                        username: me.username,
                        csrf: me.csrfToken,
                        hasPassword: try accounts.hasPassword(username: me.username)
                    )
                )
            )
        case ("POST", 1, "password"):
            return .response(try changePassword(request))
        case (_, _, "polls"):
            return .response(try pollRoutes(request, Array(parts.dropFirst())))
        case ("GET", 1, "export.pptx"):
            let me = try authenticate(request, mutating: false)
            let ids = (request.query["polls"] ?? "").split(separator: ",").map(String.init)
            guard !ids.isEmpty else { throw .badRequest("name the polls to put on slides: ?polls=id1,id2") }
            return .response(try slides(ids, owner: me.username, request: request))
        case ("GET", 1, "export.csv"):
            let me = try authenticate(request, mutating: false)
            let ids = (request.query["polls"] ?? "").split(separator: ",").map(String.init)
            guard !ids.isEmpty else { throw .badRequest("name the polls to export: ?polls=id1,id2") }
            return .response(try export(ids, owner: me.username, round: try round(request)))
        case (_, 1, "sms"):
            return .response(try smsSettings(request))
        case ("GET", 2, "rooms"):
            return .response(try room(parts[1]))
        case ("POST", 3, "rooms") where parts[2] == "answers":
            return try answerOverHTTP(request, room: parts[1])
        default:
            throw PollcastError(.notFound, "no route for \(method) \(request.path)")
        }
    }

    // MARK: Polls

    private func pollRoutes(_ request: HTTPRequest, _ parts: [String]) throws(PollcastError) -> HTTPResponse {
        if request.method == "GET", parts.count == 2, parts[1] == "chart.svg" { return try chartSVG(request, parts[0]) }
        let mutating = request.method != "GET"
        let me = try authenticate(request, mutating: mutating)
        let owner = me.username
        switch (request.method, parts.count) {
        case ("GET", 0):
            return .json(polls.polls(of: owner))
        case ("POST", 0):
            return .json(try polls.createPoll(owner: owner, input: try decode(PollInput.self, request)), status: 201)
        case ("GET", 1):
            return .json(try polls.poll(parts[0], of: owner))
        case ("PATCH", 1):
            return .json(try polls.updatePoll(parts[0], owner: owner, input: try decode(PollInput.self, request)))
        case ("DELETE", 1):
            try polls.deletePoll(parts[0], owner: owner)
            return .noContent
        case ("POST", 2) where parts[1] == "display":
            let body = try decode(DisplayInput.self, request)
            return .json(
                try polls.display(
                    parts[0],
                    owner: owner,
                    chart: body.chart,
                    showPercent: body.showPercent,
                    compareRounds: body.compareRounds
                )
            )
        case ("POST", 2) where parts[1] != "moderate":
            guard let command = PollCommand(rawValue: parts[1]) else {
                throw PollcastError(.notFound, "unknown control \(parts[1])")
            }
            return .json(try polls.apply(command, to: parts[0], owner: owner))
        case ("POST", 2) where parts[1] == "moderate":
            struct Body: Decodable {
                var text: String
                var hidden: Bool?
            }
            let body = try decode(Body.self, request)
            let snapshot = try polls.moderate(parts[0], owner: owner, text: body.text, hidden: body.hidden ?? true)
            return .json(snapshot.frame(hidden: false, fullView: true))
        case ("GET", 2) where parts[1] == "responses":
            return .json(try polls.respondents(parts[0], of: owner, round: try round(request)))
        case ("GET", 2) where parts[1] == "results":
            let snapshot = try polls.results(parts[0], of: owner, round: try round(request))
            return .json(snapshot.frame(hidden: false, fullView: true))
        case ("GET", 2) where parts[1] == "compare" || parts[1] == "compare.csv":
            let (poll, comparison) = try polls.compare(
                parts[0],
                of: owner,
                from: try round(request, "from"),
                to: try round(request, "to")
            )
            guard parts[1] == "compare.csv" else { return .json(comparison) }
            var response = HTTPResponse(
                status: 200,
                contentType: "text/csv; charset=utf-8",
                body: Array(comparison.csv(for: poll).utf8)
            )
            response.headers.append(("content-disposition", "attachment; filename=\"pollcast-compare.csv\""))
            return response
        case ("GET", 2) where parts[1] == "slides.pptx":
            return try slides([parts[0]], owner: owner, request: request)
        case ("GET", 2) where parts[1] == "export.csv":
            return try export([parts[0]], owner: owner, round: try round(request))
        default:
            throw PollcastError(.notFound, "no route for \(request.method) \(request.path)")
        }
    }

    private func round(_ request: HTTPRequest, _ name: String = "round") throws(PollcastError) -> Int? {
        guard let raw = request.query[name] else { return nil }
        guard let round = Int(raw), round >= 1 else { throw .badRequest("\(name) must be a whole number from 1") }
        return round
    }

    private func export(_ ids: [String], owner: String, round: Int?) throws(PollcastError) -> HTTPResponse {
        var csv = CSVExport()
        for id in ids {
            let poll = try polls.poll(id, of: owner)
            let rounds = round.map { [$0] } ?? Array(1...poll.state.round)
            for r in rounds {
                guard (1...poll.state.round).contains(r) else {
                    throw PollcastError(.notFound, "poll \(id) has rounds 1 to \(poll.state.round)")
                }
                let rows: [StoredAnswer]
                do { rows = try polls.store.answers(poll: id, round: r) } catch {
                    throw PollcastError(.unavailable, "cannot read answers: \(error)")
                }
                csv.append(poll: poll, rows: rows)
            }
        }
        var response = HTTPResponse(status: 200, contentType: "text/csv; charset=utf-8", body: Array(csv.text.utf8))
        response.headers.append(("content-disposition", "attachment; filename=\"pollcast-export.csv\""))
        return response
    }

    // MARK: Slides and chart images

    /// `?rounds=all`: every round side by side in each chart; else the latest round.
    private func slides(_ ids: [String], owner: String, request: HTTPRequest) throws(PollcastError) -> HTTPResponse {
        let allRounds: Bool
        switch request.query["rounds"] {
        case nil, "latest": allRounds = false
        case "all": allRounds = true
        default: throw .badRequest("rounds is latest or all")
        }
        guard ids.count <= 100 else { throw .badRequest("at most 100 polls in one deck") }
        var items: [SlideDeck.PollSlides] = []
        for id in ids {
            let poll = try polls.poll(id, of: owner)
            // Every round, up to the latest twelve: more bars a category are no longer read.
            let rounds = allRounds ? Array(max(1, poll.state.round - 11)...poll.state.round) : [poll.state.round]
            var snapshots: [ResultsSnapshot] = []
            for round in rounds {
                var snapshot = try polls.results(id, of: owner, round: round)
                snapshot.baseline = nil
                snapshots.append(snapshot)
            }
            items.append(.init(poll: poll, rounds: snapshots))
        }
        let join = joinURL(owner)
        let deck = SlideDeck(
            joinURL: join,
            qrPNG: JoinQRCode.png(for: join),
            textLine: textLine(owner).map { "or text \($0.keyword) to \($0.number)" },
            polls: items
        )
        let bytes: [UInt8]
        do { bytes = try deck.pptx() } catch { throw PollcastError(.unavailable, error.description) }
        var response = HTTPResponse(status: 200, contentType: SlideDeck.contentType, body: bytes)
        response.headers.append(("content-disposition", "attachment; filename=\"pollcast-slides.pptx\""))
        response.headers.append(("cache-control", "no-store"))
        return response
    }

    /// The results as SVG: the owner's full view of any round; anyone else sees what the
    /// public screen shows (the active poll only, nothing while hidden).
    private func chartSVG(_ request: HTTPRequest, _ id: String) throws(PollcastError) -> HTTPResponse {
        let owner = try? authenticate(request, mutating: false)
        let svg: String
        if let owner, let poll = try? polls.poll(id, of: owner.username) {
            let snapshot = try polls.results(id, of: owner.username, round: try round(request))
            svg = ResultsChartSVG(poll: poll, snapshot: snapshot, hidden: false).svg
        } else {
            guard let (poll, snapshot) = polls.publicResults(id),
                request.query["round"].map({ Int($0) == poll.state.round }) ?? true
            else { throw PollcastError(.notFound, "no active poll \(id)") }
            svg = ResultsChartSVG(poll: poll, snapshot: snapshot, hidden: poll.state.hidden).svg
        }
        var response = HTTPResponse(status: 200, contentType: "image/svg+xml", body: Array(svg.utf8))
        response.headers.append(("cache-control", "no-store"))
        return response
    }

    // MARK: Rooms (public)

    /// Where the audience joins `room`: never derived from the request's Host header.
    func joinURL(_ room: String) -> String { publicBase.withLock { $0 } + "/" + room }

    private func room(_ username: String) throws(PollcastError) -> HTTPResponse {
        guard polls.knownRoom(username) else { throw PollcastError(.notFound, "no room \(username)") }
        struct Room: Encodable {
            var presenter: String
            var join: String
            var poll: Poll?
            /// How to answer by text, when the server has a number to show.
            var sms: TextLine?

            enum CodingKeys: String, CodingKey { case presenter, join, poll, sms }

            /// `"poll": null` when nothing is active, as the contract says (not left out).
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(presenter, forKey: .presenter)
                try c.encode(join, forKey: .join)
                try c.encode(poll, forKey: .poll)
                try c.encodeIfPresent(sms, forKey: .sms)
            }
        }
        return .json(
            Room(
                presenter: username,
                join: joinURL(username),
                poll: polls.activePoll(room: username)?.poll.publicView,
                sms: textLine(username)
            )
        )
    }

    /// "Text KEYWORD to NUMBER", as data.
    struct TextLine: Encodable {
        var keyword: String
        var number: String
    }

    private func textLine(_ username: String) -> TextLine? {
        guard let sms, let number = sms.settings.number, let keyword = sms.shownKeyword(of: username) else {
            return nil
        }
        return TextLine(keyword: keyword, number: number)
    }

    /// `GET /api/sms`: whether SMS is on, the number and this presenter's keyword;
    /// `POST /api/sms {keyword}` chooses the keyword.
    private func smsSettings(_ request: HTTPRequest) throws(PollcastError) -> HTTPResponse {
        let me = try authenticate(request, mutating: request.method != "GET")
        struct Settings: Encodable {
            var enabled: Bool
            var number: String?
            var keyword: String?
            var joinHours: Double?
        }
        switch request.method {
        case "GET":
            guard let sms else { return .json(Settings(enabled: false)) }
            return .json(
                Settings(
                    enabled: true,
                    number: sms.settings.number,
                    keyword: sms.shownKeyword(of: me.username),
                    joinHours: sms.settings.joinSeconds / 3600
                )
            )
        case "POST":
            guard let sms else { throw PollcastError(.notFound, "SMS is not configured on this server") }
            struct Body: Decodable { var keyword: String }
            let keyword = try sms.setKeyword(try decode(Body.self, request).keyword, for: me.username)
            return .json(
                Settings(
                    enabled: true,
                    number: sms.settings.number,
                    keyword: keyword,
                    joinHours: sms.settings.joinSeconds / 3600
                )
            )
        default:
            throw PollcastError(.notFound, "no route for \(request.method) /api/sms")
        }
    }

    private func answerOverHTTP(_ request: HTTPRequest, room: String) throws(PollcastError) -> RouteResult {
        struct Body: Decodable {
            var participant: String
            var name: String?
            var poll: String
            var ref: Int?
            var choices: [Int]?
            var text: String?
            var words: [String]?
        }
        guard polls.knownRoom(room) else { throw PollcastError(.notFound, "no room \(room)") }
        let body = try decode(Body.self, request)
        guard ParticipantID.isAcceptable(body.participant) else {
            throw .badRequest("participant must be a random id of 22 to 64 characters [A-Za-z0-9_-] (128 bits or more)")
        }
        try polls.submit(
            room: room,
            participant: body.participant,
            name: body.name,
            pollID: body.poll,
            choices: body.choices,
            text: body.text,
            words: body.words,
            ref: body.ref,
            target: .http(request.exchange)
        )
        return .deferred
    }

    // MARK: Auth

    private func login(_ request: HTTPRequest) throws(PollcastError) -> HTTPResponse {
        struct Body: Decodable {
            var username: String?
            var password: String?
            var link: String?
        }
        let body = try decode(Body.self, request)
        let session: (token: String, presenter: Presenter)
        var device: String?
        if let link = body.link {
            session = try accounts.redeemLoginLink(link)
        } else {
            guard let username = body.username, let password = body.password else {
                throw .badRequest("send username and password")
            }
            let made = try accounts.login(
                username: username,
                password: password,
                address: WireDecoding.addressKey(request.remoteAddress),
                device: request.cookie(AccountService.deviceCookie)
            )
            session = (made.token, made.presenter)
            device = made.device
        }
        var response = HTTPResponse.json(
            ["token": session.token, "csrf": session.presenter.csrfToken, "username": session.presenter.username])
        response.headers.append(("set-cookie", sessionCookie(session.token, request)))
        // Remembers this browser: others' failed logins cannot keep it out.
        if let device {
            let secure = request.secure ? "; Secure" : ""
            response.headers.append(
                (
                    "set-cookie",
                    "\(AccountService.deviceCookie)=\(device); Path=/api/login; HttpOnly; SameSite=Strict; "
                        + "Max-Age=31536000\(secure)"
                )
            )
        }
        return response
    }

    /// `POST /api/password {current, password}`: the presenter sets or changes their
    /// password. Every other session of the account ends; this browser gets a new one.
    private func changePassword(_ request: HTTPRequest) throws(PollcastError) -> HTTPResponse {
        struct Body: Decodable {
            var current: String?
            var password: String
        }
        let me = try authenticate(request, mutating: true)
        let body = try decode(Body.self, request)
        let session = try accounts.changePassword(
            me,
            current: body.current,
            new: body.password,
            address: WireDecoding.addressKey(request.remoteAddress)
        )
        // The token too: a client using `Authorization: Bearer` has no cookie to keep.
        var response = HTTPResponse.json(
            ["csrf": session.presenter.csrfToken, "username": me.username, "token": session.token]
        )
        response.headers.append(("set-cookie", sessionCookie(session.token, request)))
        return response
    }

    private func sessionCookie(_ token: String, _ request: HTTPRequest) -> String {
        let secure = request.secure ? "; Secure" : ""
        return
            "\(Self.sessionCookie)=\(token); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(Int(AccountService.sessionLifetime))\(secure)"
    }

    /// The presenter behind a bearer token or the session cookie. A mutation authenticated
    /// by cookie must also carry the session's CSRF token, or come from the same origin.
    func authenticate(_ request: HTTPRequest, mutating: Bool) throws(PollcastError) -> Presenter {
        if let authorization = request.header("authorization") {
            guard authorization.hasPrefix("Bearer "),
                let me = accounts.authenticate(token: String(authorization.dropFirst(7)).trimmedWhitespace)
            else { throw PollcastError(.unauthenticated, "the bearer token is invalid or expired") }
            return me
        }
        guard let token = request.cookie(Self.sessionCookie), let me = accounts.authenticate(token: token) else {
            throw PollcastError(.unauthenticated, "log in first")
        }
        if mutating {
            let csrf = request.header("x-csrf-token").map { Array($0.utf8) } ?? []
            let sameOrigin =
                request.header("origin").map { WireDecoding.isSameOrigin($0, host: request.header("host")) } ?? false
            guard Crypto.constantTimeEqual(csrf, Array(me.csrfToken.utf8)) || sameOrigin else {
                throw PollcastError(.forbidden, "missing or wrong X-CSRF-Token header")
            }
        }
        return me
    }

    private func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest) throws(PollcastError) -> T {
        try WireDecoding.body(type, request.body)
    }
}

/// `POST /api/polls/{id}/display`: how results are drawn, nothing else.
private struct DisplayInput: Decodable {
    var chart: ChartStyle?
    var showPercent: Bool?
    var compareRounds: Bool?
}

extension APIRouter {
    /// Who may read `/metrics` (connection counts, answer rates: nothing for the room):
    /// this machine, or a scraper with the metrics token. A request a proxy passed on is
    /// not this machine's, even from loopback: nginx on the same host would otherwise
    /// hand `/metrics` to the whole internet.
    func metricsAllowed(_ request: HTTPRequest) -> Bool {
        let proxied = request.header("x-forwarded-for") != nil || request.header("forwarded") != nil
        if WireDecoding.isLoopback(request.remoteAddress), !proxied { return true }
        guard let metricsToken, let authorization = request.header("authorization"),
            authorization.hasPrefix("Bearer ")
        else { return false }
        let given = String(authorization.dropFirst(7)).trimmedWhitespace
        return Crypto.constantTimeEqual(Crypto.sha256(given), Crypto.sha256(metricsToken))
    }
}
