import Foundation
import PollcastApp
import PollcastCore

/// The pages and their assets, read from the `web/` folder.
struct StaticFiles: Sendable {
    let root: String

    private static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon",
        "json": "application/json", "webmanifest": "application/manifest+json", "txt": "text/plain; charset=utf-8",
    ]

    /// The page for a path: `/`, `/{username}`, `/present/{username}`, `/admin`, `/login`, `/static/...`.
    func page(
        for parts: [String],
        query: [String: String],
        roomExists: (String) -> Bool
    ) throws(PollcastError)
        -> HTTPResponse
    {
        switch parts.count {
        case 0: return try file("index.html")
        case 1 where parts[0] == "admin": return try file("admin.html")
        case 1 where parts[0] == "login": return try file("login.html")
        case 1 where parts[0] == "favicon.ico": return try file("static/favicon.svg")
        case 1 where parts[0] == "manifest.webmanifest": return try file("manifest.webmanifest")
        case 1 where parts[0] == "sw.js":
            // At the root, so it may serve the room pages; never cached by the browser's
            // HTTP cache, so a new version is seen on the next visit.
            var worker = try file("sw.js")
            worker.headers.append(("cache-control", "no-cache"))
            return worker
        case 1:
            guard roomExists(parts[0]) else {
                // A phone or a handwritten address capitalised the room: usernames are lower case.
                if roomExists(parts[0].lowercased()) { return .redirect(to: "/" + parts[0].lowercased()) }
                return try unknownRoom()
            }
            return try file("participant.html")
        case 2 where parts[0] == "present":
            guard roomExists(parts[1]) else {
                if roomExists(parts[1].lowercased()) {
                    let embed = query["embed"] == "1" ? "?embed=1" : ""
                    return .redirect(to: "/present/" + parts[1].lowercased() + embed)
                }
                return try unknownRoom()
            }
            var response = try file("screen.html")
            response.frameable = query["embed"] == "1"
            return response
        default:
            // Any other address a student may type gets the join form, never raw JSON.
            guard parts[0] == "static" else { return try unknownRoom() }
            return try file(parts.joined(separator: "/"))
        }
    }

    /// A mistyped room address: the join page (status 404), which says the room does
    /// not exist and offers the form; a student never sees raw JSON.
    private func unknownRoom() throws(PollcastError) -> HTTPResponse {
        var response = try file("index.html")
        response.status = 404
        return response
    }

    private func file(_ relative: String) throws(PollcastError) -> HTTPResponse {
        // Only plain names: no "..", no hidden files, no odd characters.
        let safe = relative.split(separator: "/").allSatisfy { part in
            !part.hasPrefix(".") && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        }
        let ext = (relative as NSString).pathExtension.lowercased()
        guard safe, let type = Self.types[ext],
            let data = FileManager.default.contents(atPath: (root as NSString).appendingPathComponent(relative))
        else { throw PollcastError(.notFound, "no such file") }
        var response = HTTPResponse(status: 200, contentType: type, body: Array(data))
        if relative.hasPrefix("static/") { response.headers.append(("cache-control", "public, max-age=300")) }
        return response
    }
}
