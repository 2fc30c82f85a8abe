import Foundation
import PollcastCore

/// CSV export: one row per answer. The respondent column holds the screen name for
/// identified polls and stays empty for anonymous ones, which store no name at all.
public struct CSVExport {
    public private(set) var text = "poll,title,round,time,respondent,answer\r\n"

    public init() {}

    public mutating func append(poll: Poll, rows: [StoredAnswer]) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for row in rows {
            let answer = Answer(storageText: row.answer, for: poll)?.exportText ?? row.answer
            let respondent = poll.settings.identified ? (row.name ?? "") : ""
            let fields = [
                poll.id, poll.title, String(row.round), formatter.string(from: Date(timeIntervalSince1970: row.time)),
                respondent, answer,
            ]
            text += fields.map(Self.field).joined(separator: ",") + "\r\n"
        }
    }

    /// Quotes a field, and defuses text a spreadsheet would run as a formula.
    public static func field(_ value: String) -> String {
        var v = value
        if let first = v.first, "=+-@\t\r".contains(first) { v = "'" + v }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}

/// Export straight from a store (the `pollcast export` command).
public enum CSVExporter {
    public static func export(store: any Storage, pollIDs: [String]?, round: Int?) throws -> String {
        var csv = CSVExport()
        let polls = try store.allPolls().sorted { $0.createdAt < $1.createdAt }
        for poll in polls where pollIDs?.contains(poll.id) ?? true {
            let rounds = round.map { [$0] } ?? Array(1...poll.state.round)
            for r in rounds { csv.append(poll: poll, rows: try store.answers(poll: poll.id, round: r)) }
        }
        return csv.text
    }
}
