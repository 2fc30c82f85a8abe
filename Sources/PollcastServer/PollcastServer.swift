import Foundation
import Logging
import PollcastCore
import PollcastStore

/// A running pollcast server: the store, the answer writer, and the lws service loop,
/// wired together. `start` returns once it listens; `shutdown` drains and stops it.
public final class PollcastServer: Sendable {
    public let port: Int
    public let accounts: AccountService
    private let loop: ServiceLoop
    private let writer: AnswerWriter<AnswerTicket>

    public init(config: ServerConfig, logger: Logger = Logger(label: "pollcast")) throws {
        let store: PollStore
        do { store = try PollStore(directory: config.dataDirectory) } catch { throw ServerError.store(error) }
        let inbox = ServiceInbox()
        let metrics = ServerMetrics()
        let writer = AnswerWriter<AnswerTicket>(store: store) { tickets, failure in
            inbox.post(.answerOutcomes(PollService.outcomes(of: tickets, failure: failure)))
        }
        let polls: PollService
        do { polls = try PollService(store: store, clock: ChangeClock(), writer: writer, inbox: inbox) } catch {
            throw ServerError.store(error)
        }
        let accounts = AccountService(store: store)
        let router = APIRouter(
            accounts: accounts,
            polls: polls,
            pages: StaticFiles(root: config.webRoot),
            metrics: {
                let stats = writer.stats
                return metrics.render(commits: stats.commits, committedAnswers: stats.answers)
            }
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
        do {
            port = try loop.start()
        } catch {
            writer.stop()
            throw error
        }
        self.accounts = accounts
        self.loop = loop
        self.writer = writer
    }

    /// Drains: refuses new connections and answers, commits and acks every answer
    /// already received, closes the sockets with 1001, and stops the service thread.
    public func shutdown() {
        loop.beginDrain()
        writer.stop()
        loop.requestStop()
        loop.stopped.wait()
    }
}
