import Foundation
import PollcastCore

/// Pre/post: one choice poll's answers in two rounds (the question asked at the start of
/// class and again at the end), side by side, and, when the poll has a right answer, how
/// many who answered both times moved from a wrong answer to the right one. A participant
/// is the same respondent in every round of a poll (the stored id is keyed per poll, not
/// per round), so the two rounds can be joined without a name.
public struct RoundComparison: Encodable {
    public struct Side: Encodable {
        public var round: Int
        public var counts: [Int]
        /// Respondents in that round.
        public var total: Int
        /// Of them, the share (0...1) whose answer was right; nil without a right answer.
        public var right: Double?
    }

    /// Who answered in both rounds, by right and wrong.
    public struct Movement: Encodable {
        public var answeredBoth = 0
        public var wrongToRight = 0
        public var rightToWrong = 0
        public var stayedRight = 0
        public var stayedWrong = 0
    }

    public var poll: String
    public var identified: Bool
    public var correct: [Int]?
    public var from: Side
    public var to: Side
    public var movement: Movement?

    /// One participant's two answers; pairs are listed by the time of the earliest of
    /// their stored answers (a stored answer's time is that of its latest change).
    public struct Pair {
        public var name: String?
        public var first: [Int]?
        public var second: [Int]?
        public var time: Double
    }

    private(set) var pairs: [Pair] = []

    private enum CodingKeys: String, CodingKey { case poll, identified, correct, from, to, movement }

    public init(poll: Poll, from: Int, fromRows: [StoredAnswer], to: Int, toRows: [StoredAnswer]) {
        self.poll = poll.id
        identified = poll.settings.identified
        correct = poll.settings.correct
        func choices(_ row: StoredAnswer) -> [Int]? {
            guard case .choices(let c)? = Answer(storageText: row.answer, for: poll) else { return nil }
            return c
        }
        func side(_ round: Int, _ rows: [StoredAnswer]) -> Side {
            var counts = Array(repeating: 0, count: poll.options.count)
            var total = 0
            var right = 0
            for row in rows {
                guard let c = choices(row) else { continue }
                total += 1
                for i in c where counts.indices.contains(i) { counts[i] += 1 }
                if Self.isRight(c, poll: poll) { right += 1 }
            }
            let share = poll.settings.correct == nil ? nil : total == 0 ? 0 : Double(right) / Double(total)
            return Side(round: round, counts: counts, total: total, right: share)
        }
        self.from = side(from, fromRows)
        self.to = side(to, toRows)

        var byParticipant: [String: Int] = [:]
        for (row, isFirst) in fromRows.map({ ($0, true) }) + toRows.map({ ($0, false) }) {
            let index =
                byParticipant[row.participant]
                ?? {
                    pairs.append(Pair(name: row.name, time: row.time))
                    byParticipant[row.participant] = pairs.count - 1
                    return pairs.count - 1
                }()
            if isFirst { pairs[index].first = choices(row) } else { pairs[index].second = choices(row) }
            if pairs[index].name == nil { pairs[index].name = row.name }
            pairs[index].time = min(pairs[index].time, row.time)
        }
        pairs.sort { $0.time < $1.time }
        guard poll.settings.correct != nil else { return }
        var movement = Movement()
        for pair in pairs {
            guard let a = pair.first, let b = pair.second else { continue }
            movement.answeredBoth += 1
            switch (Self.isRight(a, poll: poll), Self.isRight(b, poll: poll)) {
            case (false, true): movement.wrongToRight += 1
            case (true, false): movement.rightToWrong += 1
            case (true, true): movement.stayedRight += 1
            case (false, false): movement.stayedWrong += 1
            }
        }
        self.movement = movement
    }

    /// Right: one of the right options when one choice is asked for; exactly the right
    /// options when several are.
    public static func isRight(_ choices: [Int], poll: Poll) -> Bool {
        guard let correct = poll.settings.correct else { return false }
        if poll.settings.maxChoices == 1 { return choices.count == 1 && correct.contains(choices[0]) }
        return Set(choices) == Set(correct)
    }

    /// One row per participant with both rounds' answers (letters), ordered as `pairs`;
    /// names only for identified polls, never an id.
    public func csv(for poll: Poll) -> String {
        var header = ["respondent", "name", "round \(from.round)", "round \(to.round)"]
        if correct != nil { header += ["right in round \(from.round)", "right in round \(to.round)"] }
        var text = header.map(CSVExport.field).joined(separator: ",") + "\r\n"
        for (n, pair) in pairs.enumerated() {
            let letters = { (c: [Int]?) in c.map { Answer.choices($0).exportText } ?? "" }
            var fields = [
                String(n + 1), identified ? (pair.name ?? "") : "", letters(pair.first), letters(pair.second),
            ]
            if correct != nil {
                let right = { (c: [Int]?) in c.map { Self.isRight($0, poll: poll) ? "yes" : "no" } ?? "" }
                fields += [right(pair.first), right(pair.second)]
            }
            text += fields.map(CSVExport.field).joined(separator: ",") + "\r\n"
        }
        return text
    }
}
