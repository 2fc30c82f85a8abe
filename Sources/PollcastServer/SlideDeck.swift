import Foundation
import PollcastApp
import PollcastCore
import ZIPFoundation

/// Polls as a PowerPoint deck (`.pptx`, Office Open XML): for each poll a question
/// slide (the question, its options A..Z, where to answer, the QR code, the SMS line)
/// and a results slide with a native chart, whose data is an embedded workbook, so it
/// stays editable in PowerPoint, Keynote, Google Slides and LibreOffice Impress. Open
/// polls get their newest responses as text instead of a chart.
///
/// The parts are written here (`SlideDeck+Parts.swift` holds the fixed ones: theme,
/// master, layout); ZIPFoundation packs them.
struct SlideDeck {
    /// One poll's slides: its question, and the rounds to chart (the latest, or all).
    struct PollSlides {
        var poll: Poll
        var rounds: [ResultsSnapshot]
    }

    /// The audience's address for these polls' room, as the screen shows it.
    var joinURL: String
    var qrPNG: [UInt8]?
    /// "or text ALICE to +15551234567", when SMS is on with a number.
    var textLine: String?
    var polls: [PollSlides]

    static let contentType = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    /// 16:9, in EMU (914,400 a inch).
    static let width = 12_192_000
    static let height = 6_858_000

    /// The whole `.pptx`.
    func pptx() throws(ServerError) -> [UInt8] {
        var parts: [(String, [UInt8])] = []
        func add(_ path: String, _ text: String) { parts.append((path, Array(text.utf8))) }

        var slideCount = 0
        var chartCount = 0
        var overrides: [(String, String)] = []
        var slideRels: [String] = []
        for item in polls {
            slideCount += 1
            var rels = [Self.rel("rId1", Self.layoutType, "../slideLayouts/slideLayout1.xml")]
            var picture: String?
            if qrPNG != nil {
                rels.append(Self.rel("rId2", Self.imageType, "../media/qr.png"))
                picture = "rId2"
            }
            add("ppt/slides/slide\(slideCount).xml", questionSlide(item.poll, qr: picture))
            add("ppt/slides/_rels/slide\(slideCount).xml.rels", Self.relationships(rels))
            overrides.append(("/ppt/slides/slide\(slideCount).xml", Self.slideContent))
            slideRels.append("slides/slide\(slideCount).xml")

            slideCount += 1
            var resultRels = [Self.rel("rId1", Self.layoutType, "../slideLayouts/slideLayout1.xml")]
            let body: String
            if let chart = ChartData(item) {
                chartCount += 1
                resultRels.append(Self.rel("rId2", Self.chartType, "../charts/chart\(chartCount).xml"))
                add("ppt/charts/chart\(chartCount).xml", chart.chartXML(horizontal: item.poll.type == .choice))
                add(
                    "ppt/charts/_rels/chart\(chartCount).xml.rels",
                    Self.relationships([
                        Self.rel("rId1", Self.packageType, "../embeddings/Microsoft_Excel_Worksheet\(chartCount).xlsx")
                    ])
                )
                parts.append(("ppt/embeddings/Microsoft_Excel_Worksheet\(chartCount).xlsx", try chart.workbook()))
                overrides.append(("/ppt/charts/chart\(chartCount).xml", Self.chartContent))
                body = Self.chartFrame(id: 3, relationship: "rId2", y: 1_480_000, height: 5_100_000)
            } else {
                body = responsesBox(item)
            }
            add("ppt/slides/slide\(slideCount).xml", resultsSlide(item, body: body))
            add("ppt/slides/_rels/slide\(slideCount).xml.rels", Self.relationships(resultRels))
            overrides.append(("/ppt/slides/slide\(slideCount).xml", Self.slideContent))
            slideRels.append("slides/slide\(slideCount).xml")
        }
        if let qrPNG { parts.append(("ppt/media/qr.png", qrPNG)) }

        var presentationRels = [
            Self.rel("rId1", Self.masterType, "slideMasters/slideMaster1.xml"),
            Self.rel("rId2", Self.themeType, "theme/theme1.xml"),
        ]
        for (i, target) in slideRels.enumerated() {
            presentationRels.append(Self.rel("rId\(i + 3)", Self.slideType, target))
        }
        add("ppt/presentation.xml", Self.presentation(slides: slideRels.count))
        add("ppt/_rels/presentation.xml.rels", Self.relationships(presentationRels))
        add("ppt/slideMasters/slideMaster1.xml", Self.slideMaster)
        add(
            "ppt/slideMasters/_rels/slideMaster1.xml.rels",
            Self.relationships([
                Self.rel("rId1", Self.layoutType, "../slideLayouts/slideLayout1.xml"),
                Self.rel("rId2", Self.themeType, "../theme/theme1.xml"),
            ])
        )
        add("ppt/slideLayouts/slideLayout1.xml", Self.slideLayout)
        add(
            "ppt/slideLayouts/_rels/slideLayout1.xml.rels",
            Self.relationships([Self.rel("rId1", Self.masterType, "../slideMasters/slideMaster1.xml")])
        )
        add("ppt/theme/theme1.xml", Self.theme)
        add("docProps/core.xml", Self.coreProperties(title: polls.first?.poll.title ?? "pollcast"))
        add("docProps/app.xml", Self.appProperties(slides: slideRels.count))
        add(
            "_rels/.rels",
            Self.relationships([
                Self.rel("rId1", Self.officeDocumentType, "ppt/presentation.xml"),
                Self.rel(
                    "rId2",
                    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
                    "docProps/core.xml"
                ),
                Self.rel(
                    "rId3",
                    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties",
                    "docProps/app.xml"
                ),
            ])
        )
        // [Content_Types].xml first: some readers look for it at the start of the file.
        parts.insert(("[Content_Types].xml", Array(Self.contentTypes(overrides).utf8)), at: 0)
        return try Self.zip(parts)
    }

    /// Packs `parts` into a ZIP in memory, in order, with a fixed date (the same polls
    /// give the same bytes).
    static func zip(_ parts: [(String, [UInt8])]) throws(ServerError) -> [UInt8] {
        do {
            let archive = try Archive(accessMode: .create)
            let date = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
            for (path, bytes) in parts {
                let data = Data(bytes)
                try archive.addEntry(
                    with: path,
                    type: .file,
                    uncompressedSize: Int64(data.count),
                    modificationDate: date,
                    compressionMethod: .deflate
                ) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
            guard let data = archive.data else { throw ServerError.slides("the archive has no data") }
            return Array(data)
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError.slides("\(error)")
        }
    }

    // MARK: The slides

    private func questionSlide(_ poll: Poll, qr: String?) -> String {
        var shapes: [String] = []
        let textWidth = qr == nil ? Self.width - 2 * 457_200 : 7_900_000
        // The question gets the room its length needs (a five-line question, smaller
        // type), the options the rest; the viewer still shrinks a box that overflows.
        let titleLines = Self.estimatedLines(poll.title, charactersPerLine: 42)
        let titleSize = titleLines > 5 ? 2000 : titleLines > 3 ? 2400 : 3200
        let titleHeight = min(3_000_000, max(1_000_000, titleLines * titleSize * 12_700 * 13 / 10 + 200_000))
        shapes.append(
            Self.textBox(
                id: 2,
                name: "Question",
                x: 457_200,
                y: 300_000,
                width: textWidth,
                height: titleHeight,
                paragraphs: Self.lines(poll.title).map { Self.paragraph([Self.run($0, size: titleSize, bold: true)]) }
            )
        )
        let optionsTop = 300_000 + titleHeight + 150_000
        let optionsHeight = Self.height - optionsTop - 300_000
        switch poll.type {
        case .choice:
            // Many options: two columns (two boxes, A.. on the left), smaller type.
            let size =
                poll.options.count > 16 ? 1400 : poll.options.count > 8 ? 1600 : poll.options.count > 5 ? 2000 : 2400
            let paragraphs = poll.options.enumerated().map { i, option in
                Self.paragraph([
                    Self.run(Answer.letter(i) + "  ", size: size, bold: true, color: "1F4FD8"),
                    Self.run(option, size: size),
                ])
            }
            let columns =
                poll.options.count > 8
                ? [paragraphs.prefix((paragraphs.count + 1) / 2), paragraphs.suffix(paragraphs.count / 2)]
                : [paragraphs[...]]
            let columnWidth = (textWidth - (columns.count - 1) * 300_000) / columns.count
            for (c, column) in columns.enumerated() {
                shapes.append(
                    Self.textBox(
                        id: 3 + c * 10,
                        name: "Options \(c + 1)",
                        x: 457_200 + c * (columnWidth + 300_000),
                        y: optionsTop,
                        width: columnWidth,
                        height: optionsHeight,
                        paragraphs: Array(column)
                    )
                )
            }
        case .open, .wordcloud:
            let hint = poll.type == .open ? "Type your answer." : "Answer with one to three words."
            shapes.append(
                Self.textBox(
                    id: 3,
                    name: "How to answer",
                    x: 457_200,
                    y: optionsTop,
                    width: textWidth,
                    height: 1_000_000,
                    paragraphs: [Self.paragraph([Self.run(hint, size: 2400, color: "5A6170")])]
                )
            )
        }
        if let qr {
            shapes.append(
                Self.picture(id: 4, name: "QR code", relationship: qr, x: 8_750_000, y: 700_000, side: 2_900_000)
            )
        }
        var joinLines = [
            Self.paragraph([Self.run("Answer at", size: 1600, color: "5A6170")], align: "ctr"),
            Self.paragraph(
                [Self.run(Self.shownAddress(joinURL), size: 2000, bold: true, color: "1F4FD8")],
                align: "ctr"
            ),
        ]
        if let textLine {
            joinLines.append(Self.paragraph([Self.run(textLine, size: 1600, color: "14171F")], align: "ctr"))
        }
        shapes.append(
            Self.textBox(
                id: 5,
                name: "Where to answer",
                x: qr == nil ? 457_200 : 8_400_000,
                y: qr == nil ? 5_600_000 : 3_700_000,
                width: qr == nil ? textWidth : 3_600_000,
                height: 1_200_000,
                paragraphs: joinLines
            )
        )
        return Self.slide(shapes)
    }

    private func resultsSlide(_ item: PollSlides, body: String) -> String {
        let rounds = item.rounds.map(\.round)
        let which =
            rounds.count > 1
            ? "Results, rounds \(rounds.map(String.init).joined(separator: ", "))"
            : "Results" + (item.poll.state.round > 1 ? ", round \(rounds.first ?? 1)" : "")
        let respondents = item.rounds.map { r in
            "\(r.total) \(r.total == 1 ? "response" : "responses")" + (rounds.count > 1 ? " in round \(r.round)" : "")
        }
        let flat = item.poll.title.replacingOccurrences(of: "\n", with: " ")
        let title = Self.textBox(
            id: 2,
            name: "Title",
            x: 457_200,
            y: 200_000,
            width: Self.width - 2 * 457_200,
            height: 900_000,
            paragraphs: [
                Self.paragraph([
                    Self.run(flat, size: flat.count > 160 ? 1600 : flat.count > 80 ? 2000 : 2800, bold: true)
                ])
            ],
            anchor: "b"
        )
        let subtitle = Self.textBox(
            id: 4,
            name: "Round and responses",
            x: 457_200,
            y: 1_120_000,
            width: Self.width - 2 * 457_200,
            height: 340_000,
            paragraphs: [
                Self.paragraph([
                    Self.run(which + " · " + respondents.joined(separator: ", "), size: 1400, color: "5A6170")
                ])
            ]
        )
        return Self.slide([title, subtitle, body])
    }

    /// An open poll's newest responses of the latest round (its chart would be text anyway).
    private func responsesBox(_ item: PollSlides) -> String {
        var texts: [String] = []
        if case .responses(let r)? = item.rounds.last?.content { texts = Array(r.prefix(14)) }
        let paragraphs =
            texts.isEmpty
            ? [Self.paragraph([Self.run("No responses yet.", size: 2000, color: "5A6170")])]
            : texts.map {
                Self.paragraph([Self.run("“" + $0.replacingOccurrences(of: "\n", with: " ") + "”", size: 1800)])
            }
        return Self.textBox(
            id: 3,
            name: "Responses",
            x: 457_200,
            y: 1_480_000,
            width: Self.width - 2 * 457_200,
            height: 5_100_000,
            paragraphs: paragraphs,
            columns: texts.count > 7 ? 2 : 1
        )
    }

    /// The address as the screen shows it: without the scheme.
    static func shownAddress(_ url: String) -> String {
        guard let range = url.range(of: "://") else { return url }
        return String(url[range.upperBound...])
    }

    /// Lines `text` takes at about `charactersPerLine` (a layout guess: there are no font metrics here).
    static func estimatedLines(_ text: String, charactersPerLine: Int) -> Int {
        lines(text).reduce(0) { $0 + max(1, ($1.count + charactersPerLine - 1) / charactersPerLine) }
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
