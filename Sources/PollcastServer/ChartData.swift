import PollcastApp
import PollcastCore

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

    /// The workbook column of series `i`: B, C, ..., Z, AA, AB, ... (column A holds the
    /// categories).
    private func column(_ i: Int) -> String { Self.columnName(i + 1) }

    /// A spreadsheet column's name from its index (0 is A, 26 is AA).
    static func columnName(_ index: Int) -> String {
        var n = index + 1
        var name = ""
        while n > 0 {
            let digit = (n - 1) % 26
            name = String(UnicodeScalar(UInt8(65 + digit))) + name
            n = (n - 1) / 26
        }
        return name
    }

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
    func workbook() throws(ServerError) -> [UInt8] {
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
