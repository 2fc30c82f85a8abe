import ArgumentParser
import Dispatch
import Foundation
import Logging
import PollcastApp
import PollcastCore
import PollcastPostgres
import PollcastServer
import PollcastStore

/// Options every command shares.
struct DataOptions: ParsableArguments {
    @Option(help: "Directory of the SQLite store.")
    var data: String = "./pollcast-data"
    @Option(
        help: ArgumentHelp(
            "A shared PostgreSQL store, postgres://user:password@host/db, instead of --data: several nodes serve one event.",
            discussion: "Default: $POLLCAST_DATABASE."
        )
    )
    var database: String?

    /// `--database`, else `$POLLCAST_DATABASE`.
    var databaseURL: String? { optionOrEnvironment(database, "POLLCAST_DATABASE") }

    func validate() throws {
        if let url = databaseURL, !(url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")) {
            throw ValidationError("--database must be a postgres:// address, e.g. postgres://pollcast@db/pollcast")
        }
    }

    /// The store the options name: PostgreSQL if given, else SQLite in --data.
    func store() throws -> any Storage {
        if let url = databaseURL { return try PostgresStore(url: url) }
        return try PollStore(directory: data)
    }

    func accounts() throws -> AccountService { try AccountService(store: try store()) }
}

@main
struct Pollcast: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A self-hosted audience response system: live polls answered from phones.",
        subcommands: [Serve.self, User.self, Export.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (the default command).")

    @OptionGroup var options: DataOptions
    @Option(help: "TCP port; 0 picks a free one.") var port: Int = 8080
    @Option(help: "Interface to listen on (all when left out).") var host: String?
    @Option(help: "Folder of the web pages.") var web: String?
    @Option(name: .customLong("tick-ms"), help: "Broadcast tick in milliseconds.") var tickMs: Int = 50
    @Option(name: .customLong("tls-cert"), help: "PEM certificate: serve https and wss.") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.") var tlsKey: String?
    @Option(name: .customLong("event-loop"), help: "uv (epoll, default) or poll.")
    var eventLoop: String = "uv"
    @Option(name: .customLong("max-connections"), help: "WebSocket connections held at most.")
    var maxConnections: Int = 20_000
    @Option(name: .customLong("hello-timeout"), help: "Seconds a participant connection may stay silent.")
    var helloTimeout: Double = 10
    @Option(
        name: .customLong("public-url"),
        help: ArgumentHelp(
            "The address the audience is shown (screen, QR code, links), e.g. http://192.168.1.20:8080.",
            discussion: "Default: $POLLCAST_PUBLIC_URL, else this machine's network address."
        )
    )
    var publicURL: String?
    @Option(
        help: "full (default): an ack survives a power cut, one fsync per group commit; fast: it survives a crash only."
    )
    var durability: String = "full"
    @Option(
        name: .customLong("twilio-auth-token"),
        help: ArgumentHelp(
            "Turns on answers by SMS at POST /sms/twilio; every request must carry Twilio's signature.",
            discussion: "Default: $TWILIO_AUTH_TOKEN. Twilio signs the URL it was given: point its webhook at "
                + "<public-url>/sms/twilio."
        )
    )
    var twilioAuthToken: String?
    @Flag(name: .customLong("sms-insecure"), help: "Serve POST /sms/twilio without checking signatures (tests, demos).")
    var smsInsecure = false
    @Option(
        name: .customLong("sms-number"),
        help: "The number the audience texts, e.g. +15551234567 (shown on screen)."
    )
    var smsNumber: String?
    @Option(name: .customLong("sms-join-hours"), help: "How long texting a keyword keeps a phone in that room.")
    var smsJoinHours: Double = 24
    @Option(
        name: .customLong("trusted-proxy"),
        help: ArgumentHelp(
            "A load balancer's address or IPv4 block (e.g. 172.16.0.0/12) whose X-Forwarded-For names the client.",
            discussion: "Repeat it, or separate with commas. Without it, X-Forwarded-For is ignored."
        )
    )
    var trustedProxy: [String] = []
    @Option(
        name: .customLong("metrics-token"),
        help: ArgumentHelp(
            "Lets a scraper on another machine read /metrics with Authorization: Bearer <token>.",
            discussion: "Default: $POLLCAST_METRICS_TOKEN. Without one, /metrics answers this machine only."
        )
    )
    var metricsToken: String?

    var trustedProxies: [ProxyRange] { trustedProxyEntries.compactMap(ProxyRange.init) }

    /// The Twilio auth token from the option, else from the environment.
    var resolvedTwilioToken: String? { optionOrEnvironment(twilioAuthToken, "TWILIO_AUTH_TOKEN") }

    /// `--metrics-token`, else `$POLLCAST_METRICS_TOKEN`.
    var resolvedMetricsToken: String? { optionOrEnvironment(metricsToken, "POLLCAST_METRICS_TOKEN") }

    /// Every `--trusted-proxy` value, split at commas.
    var trustedProxyEntries: [String] {
        trustedProxy.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard (1...10_000).contains(tickMs) else { throw ValidationError("--tick-ms must be 1 to 10000") }
        guard EventLoop(rawValue: eventLoop) != nil else { throw ValidationError("--event-loop must be uv or poll") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard helloTimeout > 0 else { throw ValidationError("--hello-timeout must be positive") }
        guard Durability(rawValue: durability) != nil else {
            throw ValidationError("--durability must be full or fast")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        _ = try PublicURLOption.resolve(publicURL)
        if let smsNumber {
            let digits = smsNumber.dropFirst()
            guard smsNumber.hasPrefix("+"), (6...15).contains(digits.count),
                digits.allSatisfy({ ("0"..."9").contains($0) })
            else {
                throw ValidationError("--sms-number is + then 6 to 15 digits, e.g. +15551234567")
            }
        }
        // The environment's token too: a one-letter $POLLCAST_METRICS_TOKEN passed before.
        if let token = resolvedMetricsToken, token.count < 16 {
            throw ValidationError(
                "--metrics-token (or $POLLCAST_METRICS_TOKEN) must be at least 16 characters "
                    + "(it guards /metrics from the network)"
            )
        }
        for value in trustedProxyEntries {
            guard ProxyRange(value) != nil else {
                throw ValidationError(
                    "--trusted-proxy takes an IP address or an IPv4 block like 172.16.0.0/12: \(value)"
                )
            }
        }
        guard smsJoinHours > 0, smsJoinHours <= 24 * 30 else {
            throw ValidationError("--sms-join-hours must be more than 0 and at most 720")
        }
        if resolvedTwilioToken != nil, try PublicURLOption.resolve(publicURL) == nil {
            throw ValidationError(
                "--twilio-auth-token needs --public-url (or $POLLCAST_PUBLIC_URL): Twilio signs the exact address it calls"
            )
        }
        if smsNumber != nil && resolvedTwilioToken == nil && !smsInsecure {
            throw ValidationError("--sms-number needs --twilio-auth-token (or $TWILIO_AUTH_TOKEN, or --sms-insecure)")
        }
    }

    func run() throws {
        let stopSignals = Self.blockStopSignals()
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        Self.raiseDescriptorLimit()
        var config = ServerConfig(dataDirectory: options.data, webRoot: web ?? Self.defaultWebRoot())
        config.port = port
        config.host = host
        config.tickMilliseconds = tickMs
        config.tlsCertificate = tlsCert
        config.tlsKey = tlsKey
        config.maxConnections = maxConnections
        config.eventLoop = EventLoop(rawValue: eventLoop) ?? .uv
        config.helloTimeoutSeconds = helloTimeout
        config.durability = Durability(rawValue: durability) ?? .full
        config.database = options.databaseURL
        config.trustedProxies = trustedProxies
        config.metricsToken = resolvedMetricsToken
        config.publicURL = try PublicURLOption.resolve(publicURL)
        config.twilioAuthToken = resolvedTwilioToken
        config.smsInsecure = smsInsecure
        config.smsNumber = smsNumber
        config.smsJoinHours = smsJoinHours
        let server = try PollcastServer(config: config)
        let scheme = tlsCert == nil ? "http" : "https"
        say("pollcast listening on \(scheme)://\(host ?? "0.0.0.0"):\(server.port)")
        let reason =
            config.publicURL == nil
            ? server.publicURLReason : publicURL != nil ? "--public-url" : "POLLCAST_PUBLIC_URL"
        say("audience joins at \(server.publicURL)/<username> (\(reason))")
        if config.publicURL == nil, !config.trustedProxies.isEmpty || config.database != nil {
            say(
                "warning: behind a load balancer give --public-url (or POLLCAST_PUBLIC_URL) its address: "
                    + "screens and QR codes now show this node's own"
            )
        }
        if config.twilioAuthToken != nil {
            say("SMS: Twilio webhook at \(server.publicURL)/sms/twilio (signatures checked)")
        } else if smsInsecure {
            say(
                "SMS: webhook at \(server.publicURL)/sms/twilio WITHOUT signature checks (--sms-insecure): anyone who can reach it can answer as any phone"
            )
        }
        if try server.accounts.usernames().isEmpty {
            let name = Self.firstUsername()
            var created = true
            do { try server.accounts.createAccountWithoutPassword(username: name) } catch {
                // Nodes of one database starting together: the first one made it.
                guard try server.accounts.usernames().contains(name) else { throw error }
                created = false
            }
            if created {
                let link = try server.accounts.createLoginLink(username: name)
                let store = options.databaseURL == nil ? "--data \(options.data)" : "--database <the same address>"
                say("created presenter \(name); log in once with: \(server.publicURL)/login?link=\(link)")
                say("then set a password in the console; a new link: pollcast user login-link \(name) \(store)")
            }
        }
        Self.waitForStopSignal(stopSignals)
        say("pollcast draining")
        server.shutdown()
        say("pollcast stopped")
    }

    /// SIGTERM and SIGINT, blocked in the main thread before any other thread exists, so
    /// every thread inherits the block: a stop signal that arrives while the server is
    /// still starting stays pending instead of killing the process mid-commit or being
    /// lost (a signal handler installed later came too late: a SIGTERM right after
    /// "listening" hung the process in 3 of 5 tries).
    static func blockStopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return set
    }

    /// Blocks the main thread until SIGTERM or SIGINT is pending (also one that came
    /// before this call), and takes it.
    static func waitForStopSignal(_ signals: sigset_t) {
        var signals = signals
        var taken: Int32 = 0
        while sigwait(&signals, &taken) != 0 {}
    }

    /// Every connection is a descriptor: lift the soft limit (often 1,024) to the hard
    /// one, so `--max-connections` is reached before the process runs out of them.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max
        else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// `./web` when run from the repository, else next to the executable.
    static func defaultWebRoot() -> String {
        let candidates = [
            FileManager.default.currentDirectoryPath + "/web",
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("../../web").standardized.path,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("../share/pollcast/web").standardized.path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/index.html") } ?? candidates[0]
    }

    static func firstUsername() -> String {
        let user = (ProcessInfo.processInfo.environment["USER"] ?? "").lowercased()
        return Username.isValid(user) ? user : "presenter"
    }
}

struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage presenter accounts.",
        subcommands: [Add.self, Passwd.self, LoginLink.self, List.self]
    )

    struct LoginLink: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "login-link",
            abstract: "Print a one-time login link for a presenter (valid 24 hours; works while serving)."
        )
        @OptionGroup var options: DataOptions
        @Argument var username: String
        @Option(name: .customLong("public-url"), help: "The server's address as the presenter reaches it.")
        var publicURL: String?
        @Option(help: "The server's port, when --public-url is left out.") var port: Int = 8080

        func run() throws {
            // No store here is a wrong --data, not a reason to make an empty one.
            guard options.databaseURL != nil || FileManager.default.fileExists(atPath: options.data) else {
                throw ValidationError(
                    "no pollcast data in \(options.data): pass --data, the folder pollcast serve uses"
                )
            }
            let store = try options.store()
            let accounts = try AccountService(store: store)
            guard try accounts.usernames().contains(username) else {
                throw ValidationError("no presenter \(username); see: pollcast user list --data \(options.data)")
            }
            // The address the server recorded when it last started, unless told otherwise.
            let base =
                try PublicURLOption.resolve(publicURL)
                ?? store.setting("public-url")
                ?? PublicAddress.guessed(boundHost: nil, port: port, secure: false).url
            print("\(base)/login?link=\(try accounts.createLoginLink(username: username))")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a presenter; prints a generated password.")
        @OptionGroup var options: DataOptions
        @Argument var username: String
        @Option var password: String?

        func run() throws {
            let accounts = try options.accounts()
            let pw = try accounts.createAccount(username: username, password: password)
            print(password == nil ? "created \(username) with password: \(pw)" : "created \(username)")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a presenter's password; ends their sessions.")
        @OptionGroup var options: DataOptions
        @Argument var username: String
        @Option var password: String?

        func run() throws {
            let accounts = try options.accounts()
            let pw = try accounts.setPassword(username: username, password: password)
            print(password == nil ? "new password for \(username): \(pw)" : "password of \(username) changed")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List presenters.")
        @OptionGroup var options: DataOptions

        func run() throws {
            for name in try options.store().usernames() { print(name) }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the answers of polls as CSV to standard output.")
    @OptionGroup var options: DataOptions
    @Option(help: "Comma-separated poll ids (all polls when left out).") var polls: String?
    @Option(help: "Only this round.") var round: Int?

    func run() throws {
        let ids = polls.map { $0.split(separator: ",").map(String.init) }
        print(
            try CSVExporter.export(store: try options.store(), pollIDs: ids, round: round),
            terminator: ""
        )
    }
}

/// `--public-url`, else `$POLLCAST_PUBLIC_URL`, checked and normalised.
enum PublicURLOption {
    static func resolve(_ given: String?) throws -> String? {
        guard let raw = optionOrEnvironment(given, "POLLCAST_PUBLIC_URL") else { return nil }
        guard let url = PublicAddress.normalized(raw) else {
            throw ValidationError(
                "--public-url (or POLLCAST_PUBLIC_URL) must be an http(s) address like http://192.168.1.20:8080, "
                    + "without query or fragment: \(raw)"
            )
        }
        return url
    }
}

/// Writes a line to standard output at once (tests and scripts read it while the server runs).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// An option's value, else the environment variable's, trimmed; nil when both are empty.
func optionOrEnvironment(_ given: String?, _ variable: String) -> String? {
    (given ?? ProcessInfo.processInfo.environment[variable])
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .flatMap { $0.isEmpty ? nil : $0 }
}
