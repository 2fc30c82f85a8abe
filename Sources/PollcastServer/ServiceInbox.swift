import CLibWebSockets
import Dispatch
import PollcastApp
import PollcastCore

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
