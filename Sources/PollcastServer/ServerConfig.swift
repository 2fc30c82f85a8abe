import PollcastApp
import PollcastCore

/// The event loop under libwebsockets.
public enum EventLoop: String, Sendable, CaseIterable {
    /// libuv (epoll): pollcast owns the loop and lends it to lws. The default: at
    /// thousands of connections lws' own poll() loop spends most of its time scanning fds.
    case uv
    /// lws' built-in poll() loop.
    case poll
}

/// How a server is set up; filled by the `serve` command or by tests.
public struct ServerConfig: Sendable {
    /// Interface to listen on; nil listens on every interface.
    public var host: String?
    /// TCP port; 0 lets the kernel choose (read it back from `PollcastServer.port`).
    public var port: Int = 8080
    /// Folder of the SQLite store.
    public var dataDirectory: String
    /// Folder of the web pages.
    public var webRoot: String
    public var eventLoop = EventLoop.uv
    /// Broadcast tick: at most one `results` frame per poll per tick.
    public var tickMilliseconds: Int = 50
    /// The address the audience is shown (screen, QR code, printed links), as
    /// `PublicAddress.normalized` returns it; nil lets the server pick its network address.
    public var publicURL: String?
    /// Serve https and wss with this certificate and key (PEM files).
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Largest HTTP request body accepted.
    public var maxBodyBytes = 64 * 1024
    /// Answers a participant may send per second on average, and in a burst, over
    /// WebSocket and HTTP together (keyed by participant id, never by address).
    public var answersPerSecond: Double = 10
    public var answerBurst: Double = 20
    /// Frames of any kind one WebSocket connection may send per second, and in a burst;
    /// the same budget holds for requests on one HTTP connection.
    public var framesPerSecond: Double = 20
    public var frameBurst: Double = 40
    /// Replies a connection has not read yet, in bytes; past it the connection is
    /// closed (1008) and counted in /metrics.
    public var maxPendingReplyBytes = 64 * 1024
    /// Screens one address may hold open (participants are never limited by address: a
    /// lecture hall behind one NAT is hundreds of them; consoles need the session).
    public var maxViewersPerAddress = 16
    /// A WebSocket quiet for this long is pinged; one that stays quiet twice as long
    /// (no pong, no frame) is closed. Every role.
    public var idlePingSeconds = 30
    /// `full` (the default): an ack means the answer survives a power cut (one fsync per
    /// group commit). `fast`: it survives a crash of the process only.
    public var durability = Durability.full
    /// A shared PostgreSQL store (`postgres://...`) instead of SQLite in `dataDirectory`;
    /// several nodes given the same one serve one event.
    public var database: String?
    /// Reverse proxies whose `X-Forwarded-For` names the client (behind a load balancer
    /// every connection comes from it: per-address limits would count the whole hall as
    /// one address).
    public var trustedProxies: [ProxyRange] = []
    /// Lets a scraper on another machine read `/metrics` (as a bearer token).
    public var metricsToken: String?
    /// PBKDF2 iterations for passwords set by this server (tests lower it to run fast).
    public var passwordIterations = Crypto.passwordIterations
    /// An HTTP request body must arrive whole within this many seconds.
    public var bodyTimeoutSeconds: Double = 10
    /// WebSocket connections the server holds at most; more are refused at the handshake.
    public var maxConnections = 20_000
    /// A participant connection that has not said hello by then is closed with 1008.
    public var helloTimeoutSeconds: Double = 10
    /// Twilio's auth token: `POST /sms/twilio` is on, and every request on it must carry
    /// Twilio's signature made with this token.
    public var twilioAuthToken: String?
    /// Turns `POST /sms/twilio` on without signatures (a local gateway, a demo): anyone
    /// who can reach it can answer as any phone number.
    public var smsInsecure = false
    /// The number the audience texts, shown on the screen and the phone page.
    public var smsNumber: String?
    /// How long texting a keyword keeps a phone in that presenter's room.
    public var smsJoinHours: Double = 24

    /// Whether the SMS webhook is served.
    public var smsEnabled: Bool { twilioAuthToken != nil || smsInsecure }

    public init(dataDirectory: String, webRoot: String) {
        self.dataDirectory = dataDirectory
        self.webRoot = webRoot
    }
}
