import Foundation

/// The fixed parts of a deck (theme, master, layout, presentation, properties) and the
/// shapes slides are made of, as PresentationML and DrawingML text.
extension SlideDeck {
    static let relationshipsNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    static let officeDocumentType = relationshipsNamespace + "/officeDocument"
    static let slideType = relationshipsNamespace + "/slide"
    static let layoutType = relationshipsNamespace + "/slideLayout"
    static let masterType = relationshipsNamespace + "/slideMaster"
    static let themeType = relationshipsNamespace + "/theme"
    static let imageType = relationshipsNamespace + "/image"
    static let chartType = relationshipsNamespace + "/chart"
    static let packageType = relationshipsNamespace + "/package"
    static let slideContent = "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"
    static let chartContent = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"

    private static let namespaces = """
        xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" \
        xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" \
        xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"
        """
    private static let declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"

    // MARK: Package

    static func rel(_ id: String, _ type: String, _ target: String) -> String {
        "<Relationship Id=\"\(id)\" Type=\"\(type)\" Target=\"\(xml(target))\"/>"
    }

    static func relationships(_ items: [String]) -> String {
        declaration
            + "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
            + items.joined() + "</Relationships>"
    }

    static func contentTypes(_ overrides: [(String, String)]) -> String {
        let fixed: [(String, String)] = [
            (
                "/ppt/presentation.xml",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
            ),
            (
                "/ppt/slideMasters/slideMaster1.xml",
                "application/vnd.openxmlformats-officedocument.presentationml.slideMaster+xml"
            ),
            (
                "/ppt/slideLayouts/slideLayout1.xml",
                "application/vnd.openxmlformats-officedocument.presentationml.slideLayout+xml"
            ),
            ("/ppt/theme/theme1.xml", "application/vnd.openxmlformats-officedocument.theme+xml"),
            ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
            ("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml"),
        ]
        return declaration
            + "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
            + "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
            + "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
            + "<Default Extension=\"png\" ContentType=\"image/png\"/>"
            + "<Default Extension=\"xlsx\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\"/>"
            + (fixed + overrides).map { "<Override PartName=\"\($0.0)\" ContentType=\"\($0.1)\"/>" }.joined()
            + "</Types>"
    }

    static func presentation(slides: Int) -> String {
        let ids = (0..<slides).map { "<p:sldId id=\"\(256 + $0)\" r:id=\"rId\($0 + 3)\"/>" }.joined()
        return declaration + """
            <p:presentation \(namespaces) saveSubsetFonts="1">\
            <p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>\
            <p:sldIdLst>\(ids)</p:sldIdLst>\
            <p:sldSz cx="\(width)" cy="\(height)"/><p:notesSz cx="6858000" cy="9144000"/>\
            </p:presentation>
            """
    }

    static func coreProperties(title: String) -> String {
        declaration + """
            <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" \
            xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" \
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\
            <dc:title>\(xml(String(title.prefix(200))))</dc:title><dc:creator>pollcast</dc:creator></cp:coreProperties>
            """
    }

    static func appProperties(slides: Int) -> String {
        declaration + """
            <Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">\
            <Application>pollcast</Application><Slides>\(slides)</Slides></Properties>
            """
    }

    // MARK: Master, layout, theme

    private static let emptyTree = """
        <p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>\
        <p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>\
        </p:spTree>
        """

    static let slideMaster =
        declaration + """
            <p:sldMaster \(namespaces)><p:cSld><p:bg><p:bgRef idx="1001"><a:schemeClr val="bg1"/></p:bgRef></p:bg>\(emptyTree)</p:cSld>\
            <p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" \
            accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>\
            <p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst>\
            <p:txStyles><p:titleStyle><a:lvl1pPr><a:defRPr sz="3200"/></a:lvl1pPr></p:titleStyle>\
            <p:bodyStyle><a:lvl1pPr><a:defRPr sz="2000"/></a:lvl1pPr></p:bodyStyle>\
            <p:otherStyle><a:lvl1pPr><a:defRPr sz="1800"/></a:lvl1pPr></p:otherStyle></p:txStyles>\
            </p:sldMaster>
            """

    static let slideLayout =
        declaration + """
            <p:sldLayout \(namespaces) type="blank" preserve="1"><p:cSld name="Blank">\(emptyTree)</p:cSld>\
            <p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>
            """

    /// A complete theme (PowerPoint refuses a deck whose theme lacks a colour, font or
    /// format scheme, or has fewer than three styles in a list): pollcast's colours.
    static let theme =
        declaration + """
            <a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="pollcast"><a:themeElements>\
            <a:clrScheme name="pollcast"><a:dk1><a:srgbClr val="14171F"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>\
            <a:dk2><a:srgbClr val="1F2937"/></a:dk2><a:lt2><a:srgbClr val="F3F4F8"/></a:lt2>\
            <a:accent1><a:srgbClr val="1F4FD8"/></a:accent1><a:accent2><a:srgbClr val="E8710A"/></a:accent2>\
            <a:accent3><a:srgbClr val="137333"/></a:accent3><a:accent4><a:srgbClr val="A142F4"/></a:accent4>\
            <a:accent5><a:srgbClr val="D93025"/></a:accent5><a:accent6><a:srgbClr val="9AA3B2"/></a:accent6>\
            <a:hlink><a:srgbClr val="1F4FD8"/></a:hlink><a:folHlink><a:srgbClr val="5A6170"/></a:folHlink></a:clrScheme>\
            <a:fontScheme name="pollcast"><a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont>\
            <a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont></a:fontScheme>\
            <a:fmtScheme name="pollcast"><a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>\
            <a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:fillStyleLst>\
            <a:lnStyleLst><a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>\
            <a:ln w="19050"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>\
            <a:ln w="28575"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln></a:lnStyleLst>\
            <a:effectStyleLst><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle>\
            <a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst>\
            <a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>\
            <a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst></a:fmtScheme>\
            </a:themeElements><a:objectDefaults/><a:extraClrSchemeLst/></a:theme>
            """

    // MARK: Shapes

    static func slide(_ shapes: [String]) -> String {
        declaration + """
            <p:sld \(namespaces)><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>\
            <p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>\
            \(shapes.joined())</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>
            """
    }

    static func run(_ text: String, size: Int, bold: Bool = false, color: String = "14171F") -> String {
        "<a:r><a:rPr lang=\"en-US\" sz=\"\(size)\" b=\"\(bold ? 1 : 0)\" dirty=\"0\"><a:solidFill><a:srgbClr val=\"\(color)\"/></a:solidFill>"
            + "</a:rPr><a:t>\(xml(text))</a:t></a:r>"
    }

    static func paragraph(_ runs: [String], align: String = "l") -> String {
        "<a:p><a:pPr algn=\"\(align)\"/>" + runs.joined() + "</a:p>"
    }

    /// A text box; PowerPoint shrinks its text when it does not fit (normAutofit).
    static func textBox(
        id: Int,
        name: String,
        x: Int,
        y: Int,
        width: Int,
        height: Int,
        paragraphs: [String],
        columns: Int = 1,
        anchor: String = "t"
    ) -> String {
        """
        <p:sp><p:nvSpPr><p:cNvPr id="\(id)" name="\(xml(name))"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>\
        <p:spPr><a:xfrm><a:off x="\(x)" y="\(y)"/><a:ext cx="\(width)" cy="\(height)"/></a:xfrm>\
        <a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/></p:spPr>\
        <p:txBody><a:bodyPr wrap="square" lIns="0" rIns="0" anchor="\(anchor)" numCol="\(columns)" spcCol="457200"><a:normAutofit/></a:bodyPr>\
        <a:lstStyle/>\(paragraphs.joined())</p:txBody></p:sp>
        """
    }

    static func picture(id: Int, name: String, relationship: String, x: Int, y: Int, side: Int) -> String {
        """
        <p:pic><p:nvPicPr><p:cNvPr id="\(id)" name="\(xml(name))" descr="\(xml(name))"/>\
        <p:cNvPicPr><a:picLocks noChangeAspect="1"/></p:cNvPicPr><p:nvPr/></p:nvPicPr>\
        <p:blipFill><a:blip r:embed="\(relationship)"/><a:stretch><a:fillRect/></a:stretch></p:blipFill>\
        <p:spPr><a:xfrm><a:off x="\(x)" y="\(y)"/><a:ext cx="\(side)" cy="\(side)"/></a:xfrm>\
        <a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>
        """
    }

    static func chartFrame(id: Int, relationship: String, y: Int, height: Int) -> String {
        """
        <p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="\(id)" name="Results chart"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>\
        <p:xfrm><a:off x="457200" y="\(y)"/><a:ext cx="\(width - 2 * 457_200)" cy="\(height)"/></p:xfrm>\
        <a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">\
        <c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="\(relationship)"/>\
        </a:graphicData></a:graphic></p:graphicFrame>
        """
    }
}
