import CLibWebSockets
import Dispatch
import PollcastCore

/// Where an answer's outcome goes: a WebSocket session or a waiting HTTP request,
/// both named by the id the service loop gave them.
public enum ReplyTarget: Sendable, Hashable {
    case socket(Int)
    case http(Int)
    /// A text message's webhook request, answered with TwiML.
    case sms(Int)
}

/// Work handed to the lws service thread from other threads.
enum LoopJob: Sendable {
    /// An HTTP exchange's response is ready.
    case respond(exchange: Int, HTTPResponse)
    /// Answers are durable (or failed): send their acks or errors.
    case answerOutcomes([AnswerOutcome])
    /// What a room shows changed (activate, hide, lock, clear, edit…): send `state` frames.
    case roomChanged(String)
    /// Login sessions ended (logout, a password change): close their consoles.
    case sessionsEnded
    /// Begin a drain: refuse new connections and answers; signal once in effect.
    case drain(DispatchSemaphore?)
    /// End a drain: close every socket with 1001 once its replies are out, then stop.
    case closeAll
}

/// The result of one answer after its commit.
struct AnswerOutcome: Sendable {
    var target: ReplyTarget
    var ref: Int?
    var reply: Result<AckFrame, PollcastError>
    /// For answers sent over HTTP: the answer to echo.
    var mine: MineAnswer?
    /// What the answer did to the participant's answer (a text message says it).
    var effect: AnswerEffect = .first
    /// When the answer arrived (`monotonicSeconds`), for the ack latency.
    var received: Double = 0
}

/// What an acked answer changed.
enum AnswerEffect: Sendable {
    /// The participant's first answer in this round.
    case first
    /// It replaced a different answer.
    case changed
    /// The same answer again (nothing changed).
    case unchanged
}

/// A lock-protected queue into the service thread. `post` may be called from any
/// thread; it wakes the loop with `lws_cancel_service`, the one lws call that is
/// thread-safe, and the loop drains the queue in `EVENT_WAIT_CANCELLED`.
final class ServiceInbox: Sendable {
    private struct State {
        var jobs: [LoopJob] = []
        /// The context to wake; nil before it exists and once it is being destroyed.
        /// Cleared under this lock, so no thread wakes a destroyed context.
        var context: ContextHandle?
    }

    /// Safe to send because the only use off the service thread is `lws_cancel_service`,
    /// which lws documents as thread-safe, and it is made under `state`'s lock.
    private struct ContextHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let state = Locked(State())

    func post(_ job: LoopJob) {
        state.withLock { s in
            s.jobs.append(job)
            if let context = s.context { lws_cancel_service(context.pointer) }
        }
    }

    /// Runs on the service thread.
    func takeAll() -> [LoopJob] {
        state.withLock { s in
            defer { s.jobs.removeAll() }
            return s.jobs
        }
    }

    func attach(_ context: OpaquePointer?) {
        let handle = context.map(ContextHandle.init)
        state.withLock { $0.context = handle }
    }
}
