import Crypto
import Foundation
import JSON

/// Where fixtures are pushed: the real registry over HTTP, or the in-repo referrers registry.
public protocol ContentPusher: Sendable {
    @discardableResult func pushBlob(_ repository: String, _ bytes: [UInt8]) throws -> PushedContent
    @discardableResult func pushManifest(_ repository: String, reference: String, _ bytes: [UInt8], mediaType: String) throws -> PushedContent
    func fetchManifest(_ repository: String, reference: String) throws -> [UInt8]?
}

extension LocalRegistry: ContentPusher {
    public func fetchManifest(_ repository: String, reference: String) throws -> [UInt8]? {
        let auth = try authorization(repository: repository).map { [(name: "Authorization", value: $0)] } ?? []
        let response = try session.perform(HTTPClientRequest(url: "http://\(host)/v2/\(repository)/manifests/\(reference)",
            headers: auth + [(name: "Accept", value: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")]))
        return response.status == 200 ? response.body : nil
    }
}

/// Builds images and artifacts the way oras and cosign lay them out (OCI image spec 1.1), and
/// pushes them. `attach` maintains the referrers tag schema index for registries without the
/// referrers API, as the OCI distribution spec asks of pushing clients.
public struct OCIFixtures: Sendable {
    public let pusher: any ContentPusher
    public let maintainTagSchema: Bool

    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let emptyConfig: [UInt8] = Array("{}".utf8)

    public init(pusher: any ContentPusher, maintainTagSchema: Bool) {
        self.pusher = pusher
        self.maintainTagSchema = maintainTagSchema
    }

    /// A standalone artifact (e.g. a dynamic plugin, as `oras push` makes it), tagged `tag`.
    @discardableResult
    public func pushArtifact(_ repository: String, tag: String, artifactType: String,
                             layers: [(mediaType: String, bytes: [UInt8])]) throws -> PushedContent {
        let bytes = try artifactManifest(repository, artifactType: artifactType, layers: layers, subject: nil, annotations: [:])
        return try pusher.pushManifest(repository, reference: tag, bytes, mediaType: Self.ociManifest)
    }

    /// An OCI 1.1 artifact manifest (empty config) over `layers`, its blobs pushed.
    private func artifactManifest(_ repository: String, artifactType: String, layers: [(mediaType: String, bytes: [UInt8])],
                                  subject: PushedContent?, annotations: [String: String]) throws -> [UInt8] {
        let empty = try pusher.pushBlob(repository, Self.emptyConfig)
        var layerDescriptors: [JSONValue] = []
        for layer in layers {
            let pushed = try pusher.pushBlob(repository, layer.bytes)
            layerDescriptors.append(["mediaType": .string(layer.mediaType), "digest": .string(pushed.digest), "size": .int(pushed.size)])
        }
        var manifest: JSONObject = [
            "schemaVersion": 2, "mediaType": .string(Self.ociManifest), "artifactType": .string(artifactType),
            "config": ["mediaType": "application/vnd.oci.empty.v1+json", "digest": .string(empty.digest), "size": .int(empty.size)],
            "layers": .array(layerDescriptors),
        ]
        if let subject { manifest["subject"] = subject.descriptor }
        if !annotations.isEmpty {
            manifest["annotations"] = .object(JSONObject(annotations.keys.sorted().map { (key: $0, value: .string(annotations[$0]!)) }))
        }
        return JSONWriter.encode(.object(manifest))
    }

    /// An image with one config and one unique layer, tagged `tag`.
    @discardableResult
    public func pushImage(_ repository: String, tag: String, layer: String = UUID().uuidString) throws -> PushedContent {
        let config = try pusher.pushBlob(repository, Array(#"{"architecture":"amd64","os":"linux"}"#.utf8))
        let layerBlob = try pusher.pushBlob(repository, Array(layer.utf8))
        let manifest: JSONValue = [
            "schemaVersion": 2, "mediaType": .string(Self.ociManifest),
            "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": .string(config.digest), "size": .int(config.size)],
            "layers": [["mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": .string(layerBlob.digest), "size": .int(layerBlob.size)]],
        ]
        return try pusher.pushManifest(repository, reference: tag, JSONWriter.encode(manifest), mediaType: Self.ociManifest)
    }

    /// An artifact (signature, SBOM, …) whose `subject` is `subject`.
    @discardableResult
    public func attach(_ repository: String, to subject: PushedContent, artifactType: String,
                       layers: [(mediaType: String, bytes: [UInt8])], annotations: [String: String] = [:]) throws -> PushedContent {
        let bytes = try artifactManifest(repository, artifactType: artifactType, layers: layers, subject: subject, annotations: annotations)
        let pushed = try pusher.pushManifest(repository, reference: "sha256:" + Hash.hex(.sha256, bytes), bytes, mediaType: Self.ociManifest)
        if maintainTagSchema {
            try addToReferrersIndex(repository, subject: subject, entry: pushed, artifactType: artifactType, annotations: annotations)
        }
        return pushed
    }

    private func addToReferrersIndex(_ repository: String, subject: PushedContent, entry: PushedContent,
                                     artifactType: String, annotations: [String: String]) throws {
        let tag = subject.digest.replacingOccurrences(of: ":", with: "-")
        var entries: [JSONValue] = []
        if let existing = try pusher.fetchManifest(repository, reference: tag) {
            entries = try JSONParser.parse(existing)["manifests"]?.arrayValue ?? []
        }
        var descriptor: JSONObject = ["mediaType": .string(entry.mediaType), "digest": .string(entry.digest),
                                      "size": .int(entry.size), "artifactType": .string(artifactType)]
        if !annotations.isEmpty {
            descriptor["annotations"] = .object(JSONObject(annotations.keys.sorted().map { (key: $0, value: .string(annotations[$0]!)) }))
        }
        entries.append(.object(descriptor))
        let index: JSONValue = ["schemaVersion": 2, "mediaType": .string(Self.ociIndex), "manifests": .array(entries)]
        try pusher.pushManifest(repository, reference: tag, JSONWriter.encode(index), mediaType: Self.ociIndex)
    }

    /// cosign's layout: a manifest tagged `sha256-<hex>.sig` whose layers are simple-signing
    /// payloads carrying `dev.cosignproject.cosign/signature` annotations.
    @discardableResult
    public func pushCosignSignatures(_ repository: String, for subject: PushedContent,
                                     layers: [(payload: [UInt8], annotations: [String: String])],
                                     layerMediaType: String = "application/vnd.dev.cosign.simplesigning.v1+json") throws -> PushedContent {
        let config = try pusher.pushBlob(repository, Array(#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8))
        var layerDescriptors: [JSONValue] = []
        for layer in layers {
            let pushed = try pusher.pushBlob(repository, layer.payload)
            layerDescriptors.append(["mediaType": .string(layerMediaType), "digest": .string(pushed.digest),
                                     "size": .int(pushed.size),
                                     "annotations": .object(JSONObject(layer.annotations.keys.sorted().map { (key: $0, value: .string(layer.annotations[$0]!)) }))])
        }
        let manifest: JSONValue = [
            "schemaVersion": 2, "mediaType": .string(Self.ociManifest),
            "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": .string(config.digest), "size": .int(config.size)],
            "layers": .array(layerDescriptors),
        ]
        let tag = subject.digest.replacingOccurrences(of: ":", with: "-") + ".sig"
        return try pusher.pushManifest(repository, reference: tag, JSONWriter.encode(manifest), mediaType: Self.ociManifest)
    }
}
