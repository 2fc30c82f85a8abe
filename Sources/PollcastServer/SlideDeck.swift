import Foundation
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

    enum BuildError: Error, CustomStringConvertible {
        case zip(String)
        var description: String {
            switch self {
            case .zip(let why): "cannot write the slides: \(why)"
            }
        }
    }

    /// The whole `.pptx`.
    func pptx() throws(BuildError) -> [UInt8] {
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
    static func zip(_ parts: [(String, [UInt8])]) throws(BuildError) -> [UInt8] {
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
            guard let data = archive.data else { throw BuildError.zip("the archive has no data") }
            return Array(data)
        } catch let error as BuildError {
            throw error
        } catch {
            throw BuildError.zip("\(error)")
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

/// What a results chart shows: categories (options, or the top words) and one series
/// of counts per round. Nil for open polls.
struct ChartData {
    var categories: [String]
    var series: [(name: String, values: [Int])]

    init?(_ item: SlideDeck.PollSlides) {
        switch item.poll.type {
        case .choice:
            categories = item.poll.options.enumerated().map { "\(Answer.letter($0)). \($1)" }
            series = item.rounds.map { round in
                var values = Array(repeating: 0, count: item.poll.options.count)
                if case .counts(let c) = round.content {
                    for (i, n) in c.enumerated() where i < values.count { values[i] = n }
                }
                return ("Round \(round.round)", values)
            }
        case .wordcloud:
            // The latest round's top 15 words; earlier rounds beside them where they have them.
            guard let latest = item.rounds.last, case .words(let top) = latest.content else { return nil }
            let words = top.prefix(15).map(\.word)
            categories = words
            series = item.rounds.map { round in
                var counts: [String: Int] = [:]
                if case .words(let w) = round.content { for entry in w { counts[entry.word] = entry.count } }
                return ("Round \(round.round)", words.map { counts[$0] ?? 0 })
            }
        case .open:
            return nil
        }
    }

    /// The column letter of series `i` in the workbook (B, C, ...).
    private func column(_ i: Int) -> String { Answer.letter(i + 1) }

    func chartXML(horizontal: Bool) -> String {
        let last = categories.count + 1
        // Every option named, however many: smaller labels instead of skipped ones.
        let labelSize = categories.count > 16 ? 900 : categories.count > 8 ? 1100 : 1400
        let palette = ["9AA3B2", "1F4FD8", "E8710A", "137333", "A142F4", "D93025"]
        var ser = ""
        for (i, s) in series.enumerated() {
            // One round: the accent; several: grey for the first, then the palette.
            let colour = series.count == 1 ? "1F4FD8" : palette[min(i, palette.count - 1)]
            let col = column(i)
            let cats = categories.enumerated().map { j, c in "<c:pt idx=\"\(j)\"><c:v>\(xml(c))</c:v></c:pt>" }.joined()
            let vals = s.values.enumerated().map { j, v in "<c:pt idx=\"\(j)\"><c:v>\(v)</c:v></c:pt>" }.joined()
            ser += """
                <c:ser><c:idx val="\(i)"/><c:order val="\(i)"/>\
                <c:tx><c:strRef><c:f>Sheet1!$\(col)$1</c:f><c:strCache><c:ptCount val="1"/><c:pt idx="0"><c:v>\(xml(s.name))</c:v></c:pt></c:strCache></c:strRef></c:tx>\
                <c:spPr><a:solidFill><a:srgbClr val="\(colour)"/></a:solidFill></c:spPr>\
                <c:invertIfNegative val="0"/>\
                <c:dLbls><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>\
                <c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="\(labelSize)" b="1"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>\
                <c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>\
                <c:cat><c:strRef><c:f>Sheet1!$A$2:$A$\(last)</c:f><c:strCache><c:ptCount val="\(categories.count)"/>\(cats)</c:strCache></c:strRef></c:cat>\
                <c:val><c:numRef><c:f>Sheet1!$\(col)$2:$\(col)$\(last)</c:f><c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="\(categories.count)"/>\(vals)</c:numCache></c:numRef></c:val>\
                </c:ser>
                """
        }
        let legend =
            series.count > 1
            ? "<c:legend><c:legendPos val=\"t\"/><c:overlay val=\"0\"/><c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz=\"1400\"/></a:pPr><a:endParaRPr lang=\"en-US\"/></a:p></c:txPr></c:legend>"
            : ""
        // Horizontal bars list A at the top (the category axis runs top to bottom).
        let orientation = horizontal ? "maxMin" : "minMax"
        return """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" \
            xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" \
            xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
            <c:date1904 val="0"/><c:lang val="en-US"/><c:roundedCorners val="0"/>\
            <c:chart><c:autoTitleDeleted val="1"/><c:plotArea><c:layout/>\
            <c:barChart><c:barDir val="\(horizontal ? "bar" : "col")"/><c:grouping val="clustered"/><c:varyColors val="0"/>\
            \(ser)\
            <c:gapWidth val="60"/><c:axId val="111111111"/><c:axId val="222222222"/></c:barChart>\
            <c:catAx><c:axId val="111111111"/><c:scaling><c:orientation val="\(orientation)"/></c:scaling><c:delete val="0"/>\
            <c:axPos val="\(horizontal ? "l" : "b")"/><c:numFmt formatCode="General" sourceLinked="0"/><c:majorTickMark val="none"/>\
            <c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>\
            <c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="\(labelSize)"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>\
            <c:crossAx val="222222222"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>\
            <c:tickLblSkip val="1"/><c:noMultiLvlLbl val="0"/></c:catAx>\
            <c:valAx><c:axId val="222222222"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="1"/>\
            <c:axPos val="\(horizontal ? "b" : "l")"/><c:numFmt formatCode="General" sourceLinked="1"/><c:majorTickMark val="none"/>\
            <c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="111111111"/><c:crosses val="\(horizontal ? "max" : "autoZero")"/>\
            <c:crossBetween val="between"/></c:valAx>\
            </c:plotArea>\(legend)<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>\
            <c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="1400"><a:solidFill><a:srgbClr val="14171F"/></a:solidFill></a:defRPr></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>\
            <c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData>\
            </c:chartSpace>
            """
    }

    /// The chart's data as a workbook (what "Edit Data" opens): categories in column A,
    /// one column of counts per round.
    func workbook() throws(SlideDeck.BuildError) -> [UInt8] {
        func cell(_ ref: String, text: String) -> String {
            "<c r=\"\(ref)\" t=\"inlineStr\"><is><t xml:space=\"preserve\">\(xml(text))</t></is></c>"
        }
        var rows = "<row r=\"1\">" + cell("A1", text: "")
        for (i, s) in series.enumerated() { rows += cell("\(column(i))1", text: s.name) }
        rows += "</row>"
        for (j, category) in categories.enumerated() {
            let r = j + 2
            rows += "<row r=\"\(r)\">" + cell("A\(r)", text: category)
            for (i, s) in series.enumerated() { rows += "<c r=\"\(column(i))\(r)\"><v>\(s.values[j])</v></c>" }
            rows += "</row>"
        }
        let sheet = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
            xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
            <sheetData>\(rows)</sheetData></worksheet>
            """
        let workbook = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
            xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
            <sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>
            """
        let types = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
            <Default Extension="xml" ContentType="application/xml"/>\
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
            <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\
            </Types>
            """
        return try SlideDeck.zip([
            ("[Content_Types].xml", Array(types.utf8)),
            (
                "_rels/.rels",
                Array(
                    SlideDeck.relationships([SlideDeck.rel("rId1", SlideDeck.officeDocumentType, "xl/workbook.xml")])
                        .utf8
                )
            ),
            ("xl/workbook.xml", Array(workbook.utf8)),
            (
                "xl/_rels/workbook.xml.rels",
                Array(
                    SlideDeck.relationships([
                        SlideDeck.rel(
                            "rId1",
                            "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet",
                            "worksheets/sheet1.xml"
                        )
                    ]).utf8
                )
            ),
            ("xl/worksheets/sheet1.xml", Array(sheet.utf8)),
        ])
    }
}

/// Text for XML content and attributes.
func xml(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        // XML 1.0 has no place for other controls (poll texts refuse them anyway).
        case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n": continue
        case _ where (0xFFFE...0xFFFF).contains(scalar.value): continue
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
