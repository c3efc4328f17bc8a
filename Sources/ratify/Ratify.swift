import ArgumentParser
import Configuration
import Core
import Foundation
import Logging
import Observability
import RatifyServer
import TLS

@main
struct Ratify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratify",
        abstract: "Verify container image signatures for Gatekeeper (a Swift implementation of Ratify).",
        subcommands: [Serve.self, Verify.self, Discover.self, Trust.self, Version.self])
}

struct Trust: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the sigstore trust each cosign verifier uses (its source, logs, CAs, timestamp authorities) and when it expires.")

    @Option(name: [.customShort("c"), .customLong("config")], help: "Ratify config.json; the embedded default when omitted.")
    var configPath: String?

    func run() throws {
        let config: RatifyConfig
        do { config = try RatifyConfig.load(path: configPath) } catch { throw ValidationError("\(error)") }
        for line in TrustReport.lines(for: config) { print(line) }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    static let version = "0.1.0"

    func run() {
        print("ratify-swift \(Self.version) (Ratify-compatible external data provider for Gatekeeper)")
    }
}
