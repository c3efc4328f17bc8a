import JSON

/// OCI content descriptor (image-spec descriptor.md): what a manifest or an index entry points at.
public struct Descriptor: Hashable, Sendable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int
    public var artifactType: String?
    public var annotations: [String: String]
    /// An index entry's `platform` as `os/architecture[/variant]` (image-index.md).
    public var platform: String?

    public init(mediaType: String, digest: Digest, size: Int, artifactType: String? = nil, annotations: [String: String] = [:],
                platform: String? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.artifactType = artifactType
        self.annotations = annotations
        self.platform = platform
    }

    /// Parses a descriptor object; `path` names it in errors ("manifests[2]").
    /// `path` names the value in errors; it is only written when one is thrown.
    public static func parse(_ value: JSONValue, path: @autoclosure () -> String) throws(ManifestError) -> Descriptor {
        guard let object = value.objectValue else { throw ManifestError("\(path()) must be an object") }
        guard let mediaType = object["mediaType"]?.stringValue else { throw ManifestError("\(path()).mediaType is missing") }
        guard let digestText = object["digest"]?.stringValue else { throw ManifestError("\(path()).digest is missing") }
        let digest: Digest
        do { digest = try Digest.parse(digestText) } catch { throw ManifestError("\(path()).digest: \(error.message)") }
        guard let size = object["size"]?.intValue, size >= 0 else { throw ManifestError("\(path()).size must be a non-negative integer") }
        var annotations: [String: String] = [:]
        if let raw = object["annotations"], !raw.isNull {
            guard let members = raw.objectValue?.members else { throw ManifestError("\(path()).annotations must be an object") }
            for member in members {
                guard let text = member.value.stringValue else { throw ManifestError("\(path()).annotations.\(member.key) must be a string") }
                annotations[member.key] = text
            }
        }
        var platform: String?
        if let value = object["platform"], !value.isNull {
            guard let os = value["os"]?.stringValue, let architecture = value["architecture"]?.stringValue else {
                throw ManifestError("\(path()).platform needs os and architecture")
            }
            platform = [os, architecture, value["variant"]?.stringValue].compactMap { $0 }.joined(separator: "/")
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: size,
                          artifactType: object["artifactType"]?.stringValue, annotations: annotations, platform: platform)
    }

    public func json() -> JSONValue {
        var object: JSONObject = ["mediaType": .string(mediaType), "digest": .string(digest.description), "size": .int(size)]
        if let artifactType { object["artifactType"] = .string(artifactType) }
        if !annotations.isEmpty {
            object["annotations"] = .object(JSONObject(annotations.keys.sorted().map { (key: $0, value: .string(annotations[$0]!)) }))
        }
        return .object(object)
    }
}

public struct ManifestError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "INVALID_MANIFEST: \(message)" }
}

/// Media types from the OCI image spec and Docker's distribution that matter to us.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let ociEmpty = "application/vnd.oci.empty.v1+json"
    public static let ociArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
    /// Ratify's artifact type for cosign signatures found through the `.sig` tag.
    public static let cosignSignatureArtifact = "application/vnd.dev.cosign.artifact.sig.v1+json"
    public static let notarySignature = "application/vnd.cncf.notary.signature"

    /// Everything a resolve or manifest fetch accepts; distribution refuses an OCI manifest to
    /// a client whose Accept does not name the OCI type.
    public static let manifestAccept = [ociManifest, ociIndex, dockerManifest, dockerManifestList, ociArtifactManifest]
    /// `manifestAccept` as one Accept header value, joined once.
    public static let manifestAcceptHeader = manifestAccept.joined(separator: ", ")
}

/// An image or artifact manifest, or an index, reduced to what discovery needs.
public struct Manifest: Sendable, Equatable {
    public var mediaType: String
    public var artifactType: String?
    public var config: Descriptor?
    public var layers: [Descriptor]
    /// For an index: its entries.
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]

    public var isIndex: Bool { mediaType == MediaType.ociIndex || mediaType == MediaType.dockerManifestList }

    /// Parses manifest bytes. `mediaType` is the registry's Content-Type when the document does
    /// not carry its own.
    public static func parse(_ bytes: [UInt8], mediaType headerType: String?) throws(ManifestError) -> Manifest {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch { throw ManifestError("manifest is not valid JSON: \(error)") }
        guard let object = document.objectValue else { throw ManifestError("manifest must be a JSON object") }
        guard let mediaType = object["mediaType"]?.stringValue ?? headerType.map({ String($0.split(separator: ";")[0]) }) else {
            throw ManifestError("manifest has no mediaType")
        }
        func list(_ key: String) throws(ManifestError) -> [Descriptor] {
            guard let value = object[key], !value.isNull else { return [] }
            guard let array = value.arrayValue else { throw ManifestError("\(key) must be an array") }
            var result: [Descriptor] = []
            for (i, element) in array.enumerated() { result.append(try Descriptor.parse(element, path: "\(key)[\(i)]")) }
            return result
        }
        let annotations = object["annotations"]?.objectValue?.members.reduce(into: [String: String]()) { $0[$1.key] = $1.value.stringValue } ?? [:]
        return Manifest(
            mediaType: mediaType,
            artifactType: object["artifactType"]?.stringValue,
            config: try object["config"].map { (v) throws(ManifestError) in try Descriptor.parse(v, path: "config") },
            // The OCI 1.1 release candidates' artifact manifest (ORAS 0.16–1.0 pushed it; Ratify
            // reads it) lists its content as `blobs`.
            layers: mediaType == MediaType.ociArtifactManifest && object["layers"] == nil ? try list("blobs") : try list("layers"),
            manifests: try list("manifests"),
            subject: try object["subject"].map { (v) throws(ManifestError) in try Descriptor.parse(v, path: "subject") },
            annotations: annotations)
    }

    /// OCI image spec: an artifact's type is `artifactType`, else the config's mediaType.
    public var effectiveArtifactType: String? {
        artifactType ?? config.map(\.mediaType).flatMap { $0 == MediaType.ociEmpty ? nil : $0 }
    }
}
