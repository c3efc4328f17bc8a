import ArgumentParser
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
        subcommands: [Serve.self, Verify.self, Discover.self, Version.self])
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    static let version = "0.1.0"

    func run() {
        print("ratify-swift \(Self.version) (Ratify-compatible external data provider for Gatekeeper)")
    }
}
