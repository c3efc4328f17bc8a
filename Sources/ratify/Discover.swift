import ArgumentParser
import Core
import Foundation
import JSON
import Configuration
import Registry

struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the referrer graph of an image: signatures, SBOMs, and what refers to those (like `oras discover`).")

    @Option(name: [.customShort("s"), .customLong("subject")], help: "Image reference, by tag or digest.")
    var subject: String

    @Option(name: [.customShort("c"), .customLong("config")], help: "Ratify config.json (its oras store settings); the embedded default when omitted.")
    var configPath: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "tree or json.")
    var output = "tree"

    @Option(help: "Seconds the whole discovery may take.")
    var timeout: Double = 30

    func run() async throws {
        guard output == "tree" || output == "json" else { throw ValidationError("--output must be tree or json") }
        let reference: ImageReference
        do { reference = try ImageReference.parse(subject) } catch { throw ValidationError("--subject: \(error)") }
        let store: any ReferrerStore
        do {
            let config = try RatifyConfig.load(path: configPath)
            for warning in config.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            store = try StoreFactory.makeStore(for: config)
        } catch {
            throw ValidationError("\(error)")
        }
        do {
            let graph = try await ReferrerNode.discover(reference, store: store, deadline: .now + .milliseconds(Int(timeout * 1000)))
            print(output == "json" ? JSONWriter.encodeIndented(graph.json()) : graph.tree())
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
