import Core
import Foundation
import JSON
import Registry
import Testing
import TestSupport

@Suite(.serialized) struct DiscoverTests {
    /// An image with two signatures and an SBOM that is itself signed, in the real registry.
    func pushGraph(_ registry: LocalRegistry) throws -> (image: PushedContent, signatures: [PushedContent], sbom: PushedContent, sbomSignature: PushedContent) {
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let image = try fixtures.pushImage("app", tag: "v1")
        let first = try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("s1".utf8))])
        let second = try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/cose", bytes: Array("s2".utf8))])
        let sbom = try fixtures.attach("app", to: image, artifactType: sbomType, layers: [(mediaType: sbomType, bytes: Array("{}".utf8))])
        let sbomSignature = try fixtures.attach("app", to: sbom, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("s3".utf8))])
        return (image, [first, second].sorted { $0.digest < $1.digest }, sbom, sbomSignature)
    }

    @Test func walksSignaturesOnSBOMs() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let graph = try await offPool { try pushGraph(registry) }
        let node = try await ReferrerNode.discover(try ImageReference.parse("\(registry.host)/app:v1"), store: makeStore(), deadline: soon())
        #expect(node.descriptor.digest.description == graph.image.digest)
        #expect(node.tree() == """
        \(registry.host)/app:v1@\(graph.image.digest)
        ├── \(sbomType)
        │   └── \(graph.sbom.digest)
        │       └── \(notation)
        │           └── \(graph.sbomSignature.digest)
        └── \(notation)
            ├── \(graph.signatures[0].digest)
            └── \(graph.signatures[1].digest)
        """)
        let json = node.json()
        #expect(json["manifests"]?.arrayValue?.count == 3)
        #expect(json["manifests"]?.arrayValue?.first?["manifests"]?.arrayValue?.first?["digest"]?.stringValue == graph.sbomSignature.digest)
        registry.stop()
    }

    @Test func cliPrintsTheTree() async throws {
        let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/ratify").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the ratify binary first (make build)")
        let registry = try await offPool { try LocalRegistry() }
        let graph = try await offPool { try pushGraph(registry) }
        let config = registry.directory.appendingPathComponent("ratify.json").path
        try #"{"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let tree = try await offPool { try ProcessRunner.run(binary, ["discover", "-s", "\(registry.host)/app:v1", "-c", config]) }
        #expect(tree.status == 0)
        #expect(tree.output.contains("└── \(graph.sbomSignature.digest)"))
        let json = try await offPool { try ProcessRunner.run(binary, ["discover", "-s", "\(registry.host)/app:v1", "-c", config, "-o", "json"]) }
        #expect(try JSONParser.parse(json.output)["digest"]?.stringValue == graph.image.digest)
        let missing = try await offPool { try ProcessRunner.run(binary, ["discover", "-s", "\(registry.host)/app:nope", "-c", config]) }
        #expect(missing.status == 1)
        #expect(missing.output.contains("REGISTRY_NOT_FOUND"))
        registry.stop()
    }
}
