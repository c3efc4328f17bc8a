import Core
import JSON

/// cosign's "simple signing" payload (containers/image signature format, as cosign writes it):
///
///     {"critical":{"identity":{"docker-reference":"…"},"image":{"docker-manifest-digest":"sha256:…"},
///      "type":"cosign container image signature"},"optional":{…}}
public enum SimpleSigning {
    /// The payload `cosign sign` writes when no annotations are given, byte for byte (Go's
    /// json.Marshal of cosign's SimpleContainerImage), for the ways cosign names `subject`'s
    /// repository. When one of them hashes to the layer's digest it *is* the layer's content
    /// (content addressing), so the blob need not be fetched: one registry round trip less on
    /// the critical path of every cosign verification. Anything else is fetched as before.
    public static func predictedPayload(for layer: Descriptor, subject: ImageReference) -> [UInt8]? {
        guard let digest = subject.digest, layer.size > 0, layer.size < 4096 else { return nil }
        func candidate(_ prefix: String, _ name: String) -> [UInt8]? {
            // Assembled in one buffer of the layer's size: this runs for every cosign signature.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(layer.size))
            bytes.append(contentsOf: #"{"critical":{"identity":{"docker-reference":""#.utf8)
            bytes.append(contentsOf: prefix.utf8)
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: #""},"image":{"docker-manifest-digest":""#.utf8)
            bytes.append(contentsOf: digest.description.utf8)
            bytes.append(contentsOf: #""},"type":"cosign container image signature"},"optional":null}"#.utf8)
            return bytes.count == layer.size && layer.digest.matches(bytes) ? bytes : nil
        }
        if let bytes = candidate("", subject.name) { return bytes }
        if subject.registry == "docker.io" { return candidate("index.docker.io/", subject.repository) }
        return nil
    }

    public static let payloadType = "cosign container image signature"

    /// Checks the payload names `subject`, as cosign's `SimpleClaimVerifier` does: neither the
    /// docker-reference (images are copied between registries with their signatures) nor
    /// `critical.type` is checked — cosign checks neither.
    public static func check(_ payload: [UInt8], subject: Digest) -> String? {
        guard let document = try? JSONParser.parse(payload), let critical = document["critical"]?.objectValue else {
            return "signature payload is not a simple-signing JSON document with a \"critical\" section"
        }
        guard let signed = critical["image"]?["docker-manifest-digest"]?.stringValue else {
            return "signature payload has no critical.image.docker-manifest-digest"
        }
        guard signed == subject.description else {
            return "signature is for \(signed), not for the image being verified (\(subject))"
        }
        return nil
    }

    /// `cosign verify -a key=value`: every required annotation must appear in the payload's
    /// `optional` section with that value.
    public static func annotationsProblem(_ payload: [UInt8], required: [String: String]) -> String? {
        guard !required.isEmpty else { return nil }
        let optional = (try? JSONParser.parse(payload))?["optional"]?.objectValue
        for key in required.keys.sorted() {
            let found = optional?[key]?.stringValue
            guard found == required[key] else {
                return "signature annotation \(key) is \(found.map { "\"\($0)\"" } ?? "missing"), the trust policy requires \"\(required[key]!)\""
            }
        }
        return nil
    }
}
