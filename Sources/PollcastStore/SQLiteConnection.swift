import CSQLite
import PollcastApp

/// One SQLite connection with a cache of prepared statements. Not thread-safe:
/// `PollStore` keeps it behind a mutex, so only one thread uses it at a time.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    init(path: String) throws(StoreError) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            sqlite3_close_v2(handle)
            throw StoreError(code: rc, message: message)
        }
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs SQL that returns no rows (several statements allowed).
    func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        guard rc == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite3_free(error)
            throw StoreError(code: rc, message: message)
        }
    }

    /// Runs `body` in one transaction, rolled back if it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs a cached statement with `values` bound, calling `row` for each result row.
    func run(
        _ sql: String,
        _ values: [SQLValue] = [],
        row: (Row) throws(StoreError) -> Void = { _ in }
    ) throws(StoreError) {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32 =
                switch value {
                case .null: sqlite3_bind_null(statement, position)
                case .int(let v): sqlite3_bind_int64(statement, position, Int64(v))
                case .double(let v): sqlite3_bind_double(statement, position, v)
                case .text(let v): sqlite3_bind_text(statement, position, v, -1, pollcast_sqlite_transient())
                case .blob(let v):
                    v.withUnsafeBytes {
                        sqlite3_bind_blob(
                            statement,
                            position,
                            $0.baseAddress,
                            Int32($0.count),
                            pollcast_sqlite_transient()
                        )
                    }
                }
            guard rc == SQLITE_OK else { throw lastError(rc) }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw lastError(rc) }
            try row(Row(statement: statement))
        }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw lastError(rc) }
        statements[sql] = statement
        return statement
    }

    private func lastError(_ rc: Int32) -> StoreError {
        StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A value bound to a statement parameter.
enum SQLValue {
    case null
    case int(Int)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

/// The current row of a stepping statement; valid only inside the `row` callback.
struct Row {
    let statement: OpaquePointer

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    func bool(_ column: Int32) -> Bool { sqlite3_column_int64(statement, column) != 0 }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: bytes)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
