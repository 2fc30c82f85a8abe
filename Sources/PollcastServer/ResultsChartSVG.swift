import PollcastApp
import PollcastCore

/// A poll's results drawn as a standalone SVG on the server (`GET .../chart.svg`), for
/// handouts, an LMS page or any slide tool: the question, then one bar per option (or
/// per top word) with its count and share, or the newest open responses. Text is laid
/// out by character count, since a server has no font metrics: long labels are cut
/// with an ellipsis, and the question wraps at word boundaries onto three lines at most.
struct ResultsChartSVG {
    var poll: Poll
    var snapshot: ResultsSnapshot
    /// The public view of a hidden poll: no result of any kind is drawn.
    var hidden: Bool

    private static let width = 1200
    private static let margin = 40

    var svg: String {
        var y = Self.margin
        var body = ""
        for line in Self.wrap(poll.title, limit: 58, lines: 3) {
            y += 40
            body += text(line, x: Self.margin, y: y, size: 34, weight: 700)
        }
        y += 34
        let subtitle =
            "\(snapshot.total) \(snapshot.total == 1 ? "response" : "responses")"
            + (poll.state.round > 1 ? " · round \(snapshot.round)" : "")
        body += text(subtitle, x: Self.margin, y: y, size: 20, fill: "#5a6170")
        y += 24
        if hidden {
            y += 70
            body += text("Responses hidden", x: Self.margin, y: y, size: 40, weight: 700, fill: "#8a5300")
            y += 30
        } else {
            switch snapshot.content {
            case .counts(let counts):
                let correct = Set(poll.state.revealed ? poll.settings.correct ?? [] : [])
                let rows = poll.options.enumerated().map { i, option in
                    (
                        label: "\(Answer.letter(i)). \(option)", count: i < counts.count ? counts[i] : 0,
                        correct: correct.contains(i)
                    )
                }
                y = bars(rows, from: y, into: &body)
            case .words(let words):
                y = bars(words.prefix(15).map { ($0.word, $0.count, false) }, from: y, into: &body)
            case .responses(let responses):
                for response in responses.prefix(12) {
                    y += 40
                    let one = response.replacingOccurrences(of: "\n", with: " ")
                    body += text("“" + Self.cut(one, 88) + "”", x: Self.margin, y: y, size: 22)
                }
                if responses.isEmpty {
                    y += 40
                    body += text("No responses yet.", x: Self.margin, y: y, size: 22, fill: "#5a6170")
                }
            }
        }
        let height = y + Self.margin
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Self.width) \(height)" width="\(Self.width)" \
            height="\(height)" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif" \
            role="img" aria-label="\(xml("Results: " + poll.title))">\
            <rect width="100%" height="100%" fill="#ffffff"/>\(body)</svg>
            """
    }

    /// One row per item: its label, a bar as long as its share of the largest count, the
    /// count and the share of all respondents.
    private func bars(
        _ rows: [(label: String, count: Int, correct: Bool)],
        from start: Int,
        into body: inout String
    ) -> Int {
        var y = start
        let largest = max(1, rows.map(\.count).max() ?? 1)
        let barX = 520
        let barWidth = 500
        for row in rows {
            y += 52
            let share = snapshot.total > 0 ? Int((Double(row.count) * 100 / Double(snapshot.total)).rounded()) : 0
            body += text(
                Self.cut(row.label, 36) + (row.correct ? " ✓" : ""),
                x: Self.margin,
                y: y,
                size: 24,
                weight: row.correct ? 700 : 400,
                fill: row.correct ? "#137333" : "#14171f"
            )
            body +=
                "<rect x=\"\(barX)\" y=\"\(y - 24)\" width=\"\(barWidth)\" height=\"30\" rx=\"6\" fill=\"#eef0f5\"/>"
            let length = row.count == 0 ? 0 : max(6, barWidth * row.count / largest)
            body +=
                "<rect x=\"\(barX)\" y=\"\(y - 24)\" width=\"\(length)\" height=\"30\" rx=\"6\" fill=\"\(row.correct ? "#137333" : "#1f4fd8")\"/>"
            body += text("\(row.count)", x: Self.width - 110, y: y, size: 24, weight: 700, anchor: "end")
            body += text("\(share)%", x: Self.width - Self.margin, y: y, size: 20, fill: "#5a6170", anchor: "end")
        }
        return y + 10
    }

    private func text(
        _ content: String,
        x: Int,
        y: Int,
        size: Int,
        weight: Int = 400,
        fill: String = "#14171f",
        anchor: String = "start"
    ) -> String {
        "<text x=\"\(x)\" y=\"\(y)\" font-size=\"\(size)\" font-weight=\"\(weight)\" fill=\"\(fill)\" "
            + "text-anchor=\"\(anchor)\">\(xml(content))</text>"
    }

    /// At most `limit` characters, with an ellipsis when cut.
    static func cut(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// Words onto lines of about `limit` characters, at most `lines` of them (the last cut).
    static func wrap(_ text: String, limit: Int, lines: Int) -> [String] {
        var result: [String] = []
        for paragraph in text.split(separator: "\n") {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > limit {
                    result.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            if !line.isEmpty { result.append(line) }
        }
        guard result.count > lines else { return result.map { cut($0, limit + 10) } }
        return result.prefix(lines - 1).map { cut($0, limit + 10) } + [
            String(result[lines - 1].prefix(limit - 1)) + "…"
        ]
    }
}
