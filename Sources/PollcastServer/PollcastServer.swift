import Foundation
import Logging
import PollcastApp
import PollcastCore
import PollcastPostgres
import PollcastStore

/// A running pollcast server: the store, the answer writer, and the lws service loop,
/// wired together. `start` returns once it listens; `shutdown` drains and stops it.
public final class PollcastServer: Sendable {
    public let port: Int
    /// What the audience is shown as this server's address (no trailing slash), and why.
    public let publicURL: String
    public let publicURLReason: String
    public let accounts: AccountService
    private let loop: ServiceLoop
    private let writer: AnswerWriter<AnswerTicket>
    private let follower: ClusterFollower?
    private let shuttingDown = Locked(false)
    /// The two-second refresh of accounts and sessions; cancelled by `shutdown`.
    private let maintenance: Locked<(any DispatchSourceTimer)?>

    public init(config: ServerConfig, logger: Logger = Logger(label: "pollcast")) throws {
        let store: any Storage
        do { store = try Self.openStore(config) } catch { throw ServerError.store(error) }
        let inbox = ServiceInbox()
        let metrics = ServerMetrics(store: store.shared == nil ? "sqlite" : "postgresql")
        let clock = ChangeClock.booted()
        // Set once the follower exists (it needs the services the writer is given to).
        let announce = Locked<ClusterFollower?>(nil)
        let writer = AnswerWriter<AnswerTicket>(store: store, measure: metrics.committed) { tickets, result in
            inbox.post(.answerOutcomes(PollService.outcomes(of: tickets, result: result, clock: clock)))
            if case .success = result, let follower = announce.withLock({ $0 }) {
                follower.committed(Set(tickets.map(\.tally.pollID)))
            }
        }
        let polls: PollService
        let accounts: AccountService
        do {
            polls = try PollService(
                store: store,
                clock: clock,
                writer: writer,
                roomChanged: { inbox.post(.roomChanged($0)) },
                answerLimiter: KeyedRateLimiter(rate: config.answersPerSecond, burst: config.answerBurst)
            )
            accounts = try AccountService(store: store, iterations: config.passwordIterations) { event in
                switch event {
                case .created(let username): polls.addRooms([username])
                case .sessionsEnded: inbox.post(.sessionsEnded)
                }
            }
        } catch {
            throw ServerError.store(error)
        }
        var sms: TextMessageGateway?
        if config.smsEnabled {
            let settings = TextMessageGateway.Settings(
                authToken: config.twilioAuthToken,
                number: config.smsNumber,
                joinSeconds: config.smsJoinHours * 3600,
                keyFile: store.shared == nil
                    ? (config.dataDirectory as NSString).appendingPathComponent("sms.key") : nil
            )
            sms = try TextMessageGateway(settings: settings, store: store, polls: polls, metrics: metrics)
        }
        let follower = store.shared.map { shared in
            ClusterFollower(
                shared: shared,
                polls: polls,
                accounts: accounts,
                sms: sms,
                metrics: metrics,
                tickMilliseconds: config.tickMilliseconds,
                logger: logger
            )
        }
        announce.withLock { $0 = follower }
        // Known once the port is: a port of 0 is chosen by the kernel at start.
        let publicBase = Locked("")
        let router = APIRouter(
            accounts: accounts,
            polls: polls,
            publicBase: publicBase,
            pages: StaticFiles(root: config.webRoot),
            metrics: metrics.render,
            metricsToken: config.metricsToken,
            sms: sms
        )
        let loop = ServiceLoop(
            config: config,
            polls: polls,
            accounts: accounts,
            router: router,
            inbox: inbox,
            metrics: metrics,
            logger: logger
        )
        writer.start()
        follower?.start()
        do {
            port = try loop.start()
        } catch {
            writer.stop()
            follower?.stop()
            throw error
        }
        if let given = config.publicURL {
            (publicURL, publicURLReason) = (given, "given by the operator")
        } else {
            (publicURL, publicURLReason) = PublicAddress.guessed(
                boundHost: config.host,
                port: port,
                secure: config.tlsCertificate != nil
            )
        }
        publicBase.withLock { [publicURL] in $0 = publicURL }
        // For `pollcast user login-link`, run later without the server's options.
        do { try store.setSetting("public-url", publicURL) } catch {
            logger.warning("cannot record the public address", metadata: ["error": "\(error)"])
        }
        self.accounts = accounts
        self.loop = loop
        self.writer = writer
        self.follower = follower
        // Every two seconds, off the service thread: sessions ended and accounts added by
        // another process (`pollcast user passwd|add` while serving) take effect here.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "pollcast.maintenance"))
        timer.schedule(deadline: .now() + 2, repeating: 2, leeway: .milliseconds(250))
        timer.setEventHandler {
            do { polls.addRooms(try accounts.refresh()) } catch {
                logger.error("cannot refresh accounts and sessions", metadata: ["error": "\(error)"])
            }
        }
        timer.resume()
        maintenance = Locked(timer)
    }

    /// Drains: refuses new connections and answers, commits and acks every answer
    /// already received, closes the sockets with 1001, and stops the service thread.
    /// Idempotent: a second call (a second signal, a test's cleanup) returns at once.
    public func shutdown() {
        let first = shuttingDown.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        maintenance.withLock {
            $0?.cancel()
            $0 = nil
        }
        loop.beginDrain()
        writer.stop()
        // After the writer: the last commits are announced to the other nodes.
        follower?.stop()
        loop.requestStop()
        loop.stopped.wait()
    }

    /// SQLite in the data folder, or the shared PostgreSQL store when one is given.
    static func openStore(_ config: ServerConfig) throws(StoreError) -> any Storage {
        if let url = config.database { return try PostgresStore(url: url) }
        return try PollStore(directory: config.dataDirectory, durability: config.durability)
    }
}
