import CLibPQ
import Foundation
import PollcastApp

/// One libpq connection. Not thread-safe: `PostgresStore` keeps each behind a mutex.
///
/// It reconnects by itself: a call that finds the connection broken (the server
/// restarted, the network dropped) resets it first, and a call that fails throws, so
/// the caller reports `unavailable` and the next call tries again.
final class PGConnection {
    private var conn: OpaquePointer?
    private let url: String
    /// Between a successful BEGIN and its COMMIT or ROLLBACK.
    private var inTransaction = false

    /// Connects to `url` (a `postgres://` URI or a libpq keyword string).
    init(url: String) throws(StoreError) {
        self.url = url
        try connect()
    }

    deinit { if let conn { PQfinish(conn) } }

    var isConnected: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The socket, for waiting on notifications.
    var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    private func connect() throws(StoreError) {
        if let conn { PQfinish(conn) }
        // The address first, then what a database that went away must not do to us:
        // - connect_timeout: a call fails within seconds instead of hanging an API thread;
        // - TCP keepalives and tcp_user_timeout: a link that died silently (no RST) is
        //   noticed in about 10 s, by queries and by the listener alike;
        // - lock_timeout: a batch waiting on a poll row that a frozen node holds fails
        //   (`unavailable`, sent again) instead of waiting for ever;
        // - idle_in_transaction_session_timeout: PostgreSQL ends a frozen node's open
        //   transaction, and with it the row locks it held;
        // - synchronous_commit on for every session, a reconnected one too, whatever the
        //   server's default: an ack means the commit is on PostgreSQL's disk.
        let settings = [
            ("dbname", url), ("connect_timeout", "3"), ("application_name", "pollcast"), ("keepalives", "1"),
            ("keepalives_idle", "5"), ("keepalives_interval", "2"), ("keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
            (
                "options",
                "-c synchronous_commit=on -c lock_timeout=5000 -c idle_in_transaction_session_timeout=10000"
            ),
        ]
        let keys = settings.map(\.0)
        let values = settings.map(\.1)
        conn = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw StoreError(code: -1, message: "cannot connect to PostgreSQL: \(message.trimmed)")
        }
        // Quiet NOTICEs ("relation already exists, skipping") stay out of the log.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    /// Reconnects if the connection is broken.
    func ensureConnected() throws(StoreError) {
        if !isConnected { try connect() }
    }

    /// Runs one statement with text parameters (`$1`...) and returns its rows, each
    /// column as text or nil for NULL.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> [[String?]] {
        do {
            return try run(sql, parameters)
        } catch {
            // A connection that died while idle (PostgreSQL restarted) is found dead only
            // by the next statement: outside a transaction nothing was done, so that
            // statement is sent again once on a new connection instead of failing a
            // whole batch of answers or a presenter's click.
            guard !inTransaction, !isConnected else { throw error }
            try connect()
            return try run(sql, parameters)
        }
    }

    private func run(_ sql: String, _ parameters: [String?]) throws(StoreError) -> [[String?]] {
        try ensureConnected()
        let result = withOptionalCStrings(parameters) { values in
            PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let message = result.map { String(cString: PQresultErrorMessage($0)) } ?? ""
            let fallback = conn.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
            throw StoreError(code: Int32(status.rawValue), message: (message.isEmpty ? fallback : message).trimmed)
        }
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(columns)
            for c in 0..<columns {
                row.append(
                    PQgetisnull(result, Int32(r), Int32(c)) == 1
                        ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
                )
            }
            out.append(row)
        }
        return out
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try query("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            if isConnected { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Reads input from the server; false if the connection broke.
    func consumeInput() -> Bool {
        guard let conn else { return false }
        return PQconsumeInput(conn) == 1 && PQstatus(conn) == CONNECTION_OK
    }

    /// The next notification received (after `consumeInput`): its channel payload.
    func nextNotification() -> String? {
        guard let conn, let notice = PQnotifies(conn) else { return nil }
        defer { PQfreemem(notice) }
        return String(cString: notice.pointee.extra)
    }

    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// `body` with a C array of the strings (valid only inside it).
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { UnsafePointer($0) })
}

/// bytea in PostgreSQL's hex text form, both ways.
enum Bytea {
    static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [0x5C, 0x78]  // \x
        out.reserveCapacity(2 + bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(_ text: String?) -> [UInt8] {
        guard let text else { return [] }
        let hex = Array(text.utf8.dropFirst(2))
        func value(_ c: UInt8) -> UInt8 {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: 0
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var i = 0
        while i + 1 < hex.count {
            out.append(value(hex[i]) << 4 | value(hex[i + 1]))
            i += 2
        }
        return out
    }
}
