import Core
import Cosign
import Foundation
import JSON

/// What names a configuration in the cache replicas share: replicas given the same
/// configuration compute the same fingerprint (generation numbers are per process), and any
/// change that could change a verdict changes it — the document, the content of the files it
/// names (trust stores, keys, trust policies), the key management providers' material, and the
/// sigstore trusted root in use.
public enum ConfigFingerprint {
    public static func of(_ config: RatifyConfig, providers: (any KeyManagementProviders)? = nil) -> String {
        var material = canonical(config.document)
        for path in referencedPaths(config.document).sorted() { material += "\n" + path + "=" + contentDigest(path) }
        material += "\nproviders=" + (providers?.fingerprint ?? "")
        material += "\nsigstore=" + DefaultTrust.current.source
        // The trusted root that verifiers naming none read from the environment.
        if let root = ProcessInfo.processInfo.environment["RATIFY_COSIGN_TRUSTED_ROOT"], !root.isEmpty {
            material += "\ntrustedRoot=" + root + "=" + contentDigest(root)
        }
        // Another build may verify differently with the same configuration.
        material += "\nbuild=" + buildIdentity
        return String(Digest.of(Array(material.utf8)).hex.prefix(32))
    }

    /// The store's part alone (its settings, credentials' sources included): what it caches is
    /// shared only with stores configured the same way.
    public static func store(_ config: RatifyConfig) -> String {
        let store = config.document["store"] ?? .null
        var material = canonical(store)
        for path in referencedPaths(store).sorted() { material += "\n" + path + "=" + contentDigest(path) }
        return String(Digest.of(Array(material.utf8)).hex.prefix(32))
    }

    /// JSON with object members sorted and arrays sorted by their canonical text: documents that
    /// differ only in the order resources were listed in give the same text.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let object):
            let members = object.members.sorted { $0.key < $1.key }
                .map { JSONWriter.encodeString(.string($0.key)) + ":" + canonical($0.value) }
            return "{" + members.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(canonical).sorted().joined(separator: ",") + "]"
        default:
            return JSONWriter.encodeString(value)
        }
    }

    /// Absolute paths the document names that exist (files, or directories of them).
    static func referencedPaths(_ value: JSONValue) -> Set<String> {
        switch value {
        case .string(let text) where text.hasPrefix("/") && text.count < 4096:
            return FileManager.default.fileExists(atPath: text) ? [text] : []
        case .string(let text) where text.hasPrefix("file:///") && text.count < 4096:
            // Schema files of the supply-chain verifiers (`schemaURL`, `schemas`).
            let path = String(text.dropFirst("file://".count))
            return FileManager.default.fileExists(atPath: path) ? [path] : []
        case .object(let object):
            return object.members.reduce(into: Set<String>()) { $0.formUnion(referencedPaths($1.value)) }
        case .array(let items):
            return items.reduce(into: Set<String>()) { $0.formUnion(referencedPaths($1)) }
        default:
            return []
        }
    }

    /// The digest of a file, or of a directory tree's files (relative paths and contents, all
    /// levels: notation trust stores keep certificates in x509/<type>/<name>/). Anything that
    /// cannot be read whole — unreadable, too large, too many files — makes the digest unique to
    /// this process, so such a configuration never shares verdicts rather than sharing them
    /// while its trust material differs.
    static func contentDigest(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "missing" }
        if !isDirectory.boolValue { return fileDigest(path) ?? unshareable }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return unshareable }
        var entries: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard entries.count < 10_000 else { return unshareable }
            var nested: ObjCBool = false
            let full = path + "/" + relative
            guard FileManager.default.fileExists(atPath: full, isDirectory: &nested) else { continue }
            if nested.boolValue { continue }
            guard let digest = fileDigest(full) else { return unshareable }
            entries.append(relative + ":" + digest)
        }
        return Digest.of(Array(entries.sorted().joined(separator: ",").utf8)).hex
    }

    private static func fileDigest(_ path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              (attributes[.size] as? Int ?? 0) <= 16 * 1024 * 1024,
              let data = FileManager.default.contents(atPath: path) else { return nil }
        return Digest.of(Array(data)).hex
    }

    /// Unique per process: what cannot be fingerprinted is not shared.
    static let unshareable = "unshareable-" + UUID().uuidString

    /// This binary, cheaply: its size and the digest of its first 4 MiB (replicas of one image
    /// agree; another build differs). Read once.
    static let buildIdentity: String = {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        guard let handle = FileHandle(forReadingAtPath: path),
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return unshareable }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4 * 1024 * 1024) else { return unshareable }
        return "\(size):" + Digest.of(Array(head)).hex
    }()
}
