import Core
import Crypto
import Foundation
import JSON

/// Ratify's custom resources (group config.ratify.deislabs.io, v1beta1) and how each becomes
/// part of the configuration the executor is built from.
public enum RatifyKind: String, CaseIterable, Sendable {
    case verifiers, stores, policies, keymanagementproviders, certificatestores
    case namespacedverifiers, namespacedstores, namespacedpolicies, namespacedkeymanagementproviders

    public static let group = "config.ratify.deislabs.io"
    public static let version = "v1beta1"

    /// The Namespaced* kinds, and CertificateStore (namespaced in Ratify's CRDs).
    public var isNamespaced: Bool { rawValue.hasPrefix("namespaced") || self == .certificatestores }

    /// The collection across all namespaces (namespaced kinds) or the cluster collection.
    public var collectionPath: String { "/apis/\(Self.group)/\(Self.version)/\(rawValue)" }

    /// The object's own path, for status writes.
    public func objectPath(namespace: String?, name: String) -> String {
        if isNamespaced, let namespace { return "/apis/\(Self.group)/\(Self.version)/namespaces/\(namespace)/\(rawValue)/\(name)" }
        return "\(collectionPath)/\(name)"
    }
}

/// A resource's identity and what it currently says.
public struct ResourceObject: Sendable {
    public let kind: RatifyKind
    public let namespace: String?
    public let name: String
    public let generation: Int
    public let spec: JSONValue
    public let status: JSONValue?

    public init?(kind: RatifyKind, _ object: JSONValue) {
        guard let metadata = object["metadata"], let name = metadata["name"]?.stringValue else { return nil }
        self.kind = kind
        self.namespace = metadata["namespace"]?.stringValue
        self.name = name
        self.generation = metadata["generation"]?.intValue ?? 0
        self.spec = object["spec"] ?? .object(JSONObject())
        self.status = object["status"]
    }

    public var key: String { "\(kind.rawValue)/\(namespace ?? "")/\(name)" }

    init(kind: RatifyKind, namespace: String?, name: String, generation: Int, spec: JSONValue, status: JSONValue?) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.generation = generation
        self.spec = spec
        self.status = status
    }

    /// The same resource with another spec (the CRD manager fills in resolved secrets).
    public func replacingSpec(_ spec: JSONValue) -> ResourceObject {
        ResourceObject(kind: kind, namespace: namespace, name: name, generation: generation, spec: spec, status: status)
    }
}

/// What a resource contributed, or why it could not: written back as its status.
public struct ResourceOutcome: Sendable, Equatable {
    public var error: String?
    public var properties: JSONValue?

    public init(error: String? = nil, properties: JSONValue? = nil) {
        self.error = error
        self.properties = properties
    }

    /// Ratify's status fields: issuccess, error, brieferror (at most 30 characters), lastfetchedtime, properties.
    public func status(at time: Date) -> JSONValue {
        // A JSON merge patch (RFC 7386): null removes what an earlier status said, so a repaired
        // resource does not keep its old error (or stale properties).
        var status: JSONObject = ["issuccess": .bool(error == nil), "lastfetchedtime": .string(ISO8601DateFormatter().string(from: time)),
                                  "error": .null, "brieferror": .null, "properties": properties ?? .null]
        if let error {
            status["error"] = .string(error)
            status["brieferror"] = .string(error.count > 30 ? String(error.prefix(27)) + "..." : error)
        }
        return .object(status)
    }
}

/// The resources seen so far, and the configuration documents they make.
public struct ResourceSet: Sendable {
    public var objects: [String: ResourceObject] = [:]

    public init() {}

    func of(_ kind: RatifyKind, namespace: String? = nil) -> [ResourceObject] {
        objects.values.filter { $0.kind == kind && (namespace == nil || $0.namespace == namespace) }.sorted { $0.name < $1.name }
    }

    /// Namespaces with any namespaced verifier, store or policy: each gets its own executor.
    public var tenantNamespaces: [String] {
        Set(objects.values.filter { [.namespacedverifiers, .namespacedstores, .namespacedpolicies].contains($0.kind) }.compactMap(\.namespace)).sorted()
    }

    /// Verifier CR → `verifier.plugins[]` entry: the parameters, named by the resource, typed by
    /// `spec.type` (or the older `spec.name`), with `artifactTypes`.
    public static func verifierPlugin(_ object: ResourceObject) -> JSONValue {
        var plugin = object.spec["parameters"]?.objectValue ?? JSONObject()
        plugin["name"] = .string(object.name)
        plugin["type"] = .string(object.spec["type"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? object.spec["name"]?.stringValue ?? object.name)
        if let types = object.spec["artifactTypes"] { plugin["artifactTypes"] = types }
        // Ratify's SpecToVerifierConfig: the spec's version, address and source join the parameters.
        for key in ["version", "address", "source"] {
            if let value = object.spec[key], !value.isNull, value.stringValue != "" { plugin[key] = value }
        }
        return .object(plugin)
    }

    /// Store CR → `store.plugins[]` entry (`spec.name`, oras by default, plus its parameters).
    public static func storePlugin(_ object: ResourceObject) -> JSONValue {
        var plugin = object.spec["parameters"]?.objectValue ?? JSONObject()
        let name = object.spec["name"]?.stringValue ?? "oras"
        plugin["name"] = .string(name)
        // A store plugin's directory (and where a dynamic one was downloaded from).
        if name != "oras" {
            for key in ["address", "source"] {
                if let value = object.spec[key], !value.isNull, value.stringValue != "" { plugin[key] = value }
            }
        }
        return .object(plugin)
    }

    /// Policy CR → `policy.plugin`: `type: config-policy` with its parameters.
    public static func policyPlugin(_ object: ResourceObject) -> Result<JSONValue, ResourceError> {
        let type = object.spec["type"]?.stringValue ?? object.spec["name"]?.stringValue ?? ""
        // Ratify: the type lower-cased without hyphens selects the provider.
        let normalized = type.lowercased().replacingOccurrences(of: "-", with: "")
        guard normalized == "configpolicy" || normalized == "regopolicy" else {
            return .failure(ResourceError("policy type \"\(type)\" is not supported; use config-policy or rego-policy"))
        }
        var plugin = object.spec["parameters"]?.objectValue ?? JSONObject()
        plugin["name"] = normalized == "regopolicy" ? "regoPolicy" : "configPolicy"
        return .success(.object(plugin))
    }

    /// The configuration document for `namespace` (nil: the cluster's): `base` (config.json:
    /// executor, logger, …) with verifiers, stores and policy from the resources. A namespace's
    /// own Namespaced* resources replace the cluster's kind by kind; without them it falls back.
    public func document(base: JSONValue, namespace: String?) -> (document: JSONValue, policyProblems: [String: String]) {
        var document = base.objectValue ?? JSONObject()
        var problems: [String: String] = [:]
        func pick(_ cluster: RatifyKind, _ namespaced: RatifyKind) -> [ResourceObject] { self.pick(cluster, namespaced, namespace: namespace) }
        let verifiers = verifierObjects(namespace: namespace)
        if !verifiers.isEmpty {
            document["verifier"] = ["version": "1.0.0", "plugins": .array(verifiers.map(Self.verifierPlugin))]
        }
        let stores = pick(.stores, .namespacedstores)
        if !stores.isEmpty {
            document["store"] = ["version": "1.0.0", "plugins": .array(stores.map(Self.storePlugin))]
        }
        // Ratify's single policy, named ratify-policy.
        let policies = pick(.policies, .namespacedpolicies)
        for policy in policies where policy.name != "ratify-policy" {
            problems[policy.key] = "only the policy named ratify-policy is used; this one is ignored"
        }
        if let policy = policies.first(where: { $0.name == "ratify-policy" }) {
            switch Self.policyPlugin(policy) {
            case .success(let plugin): document["policy"] = ["version": "1.0.0", "plugin": plugin]
            case .failure(let error): problems[policy.key] = error.message
            }
        }
        return (.object(document), problems)
    }
}

extension ResourceSet {
    /// A namespace's own Namespaced* resources of a kind, else the cluster's.
    func pick(_ cluster: RatifyKind, _ namespaced: RatifyKind, namespace: String?) -> [ResourceObject] {
        if let namespace {
            let own = of(namespaced, namespace: namespace)
            if !own.isEmpty { return own }
        }
        return of(cluster)
    }

    /// The Verifier resources that apply to `namespace` (nil: the cluster), in name order.
    public func verifierObjects(namespace: String?) -> [ResourceObject] { pick(.verifiers, .namespacedverifiers, namespace: namespace) }
}

public struct ResourceError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Material a provider fetched elsewhere (an `azurekeyvault` KeyManagementProvider's latest
/// certificates and keys), or why it has none: the resource's status says so and verifications
/// that name it fail (Ratify hides a provider's material while its last fetch failed).
public struct RemoteMaterial: Sendable {
    public var certificates: [Certificate]
    public var keys: [ManagedKey]
    public var properties: JSONValue?
    public var error: String?
    /// Digest of the material, for the providers' fingerprint (shared-cache keys change with it).
    public var digest: String

    public init(certificates: [Certificate] = [], keys: [ManagedKey] = [], properties: JSONValue? = nil, error: String? = nil) {
        self.certificates = certificates
        self.keys = keys
        self.properties = properties
        self.error = error
        var bytes = certificates.flatMap(\.derBytes)
        for key in keys { bytes += Array("\(key.name)/\(key.version ?? "")".utf8) + key.key.derBytes }
        bytes += Array((error ?? "").utf8)
        digest = Digest.of(bytes).hex
    }
}

/// KeyManagementProvider resources of `type: inline` (`parameters.contentType: certificate |
/// key`, `parameters.value`: PEM), and the deprecated CertificateStore resources of
/// `provider: inline` (`parameters.value`: PEM certificates; Ratify 1.4 still reads them, and its
/// Venafi guide uses one), parsed once per change. Lookups from a namespace see that
/// namespace's providers first, then the cluster's — never another namespace's.
public struct InlineProviders: KeyManagementProviders {
    struct Material: Sendable {
        var certificates: [Certificate] = []
        var keys: [ManagedKey] = []
    }
    let cluster: [String: Material]
    let namespaced: [String: [String: Material]]
    public let namespace: String?
    let ratifyNamespace: String
    /// The providers' specs, digested: what the shared cache's keys name them by.
    public var fingerprint = ""

    /// Parses every KMP; returns the providers and each resource's outcome. `ratifyNamespace`:
    /// where ratify runs (RATIFY_NAMESPACE), whose CertificateStores cluster-wide verifiers name
    /// without a namespace, as Ratify prepends it.
    public static func build(_ resources: ResourceSet, ratifyNamespace: String = "gatekeeper-system",
                             remote: [String: RemoteMaterial] = [:]) -> (InlineProviders, [String: ResourceOutcome]) {
        var cluster: [String: Material] = [:], namespaced: [String: [String: Material]] = [:]
        var outcomes: [String: ResourceOutcome] = [:]
        // CertificateStores first: a KeyManagementProvider of the same name wins, as in Ratify.
        let objects = resources.objects.values
            .filter { [.keymanagementproviders, .namespacedkeymanagementproviders, .certificatestores].contains($0.kind) }
            .sorted { ($0.kind == .certificatestores ? 0 : 1, $0.key) < ($1.kind == .certificatestores ? 0 : 1, $1.key) }
        for object in objects {
            let fetched = object.kind != .certificatestores ? remote[object.key] : nil
            if object.kind != .certificatestores, object.spec["type"]?.stringValue == "azurekeyvault", fetched?.error != nil || fetched == nil {
                outcomes[object.key] = ResourceOutcome(error: fetched?.error ?? "KEY_MANAGEMENT_PROVIDER_FAILURE: not fetched from the vault yet",
                                                       properties: fetched?.properties)
                // A CertificateStore of the same name (read first) must not stand in for the
                // vault while it fails: the provider has no material until a fetch succeeds.
                if object.kind == .namespacedkeymanagementproviders, let namespace = object.namespace {
                    namespaced[namespace]?[object.name] = nil
                } else {
                    cluster[object.name] = nil
                }
                continue
            }
            let parsed = fetched.map { Result<Material, ResourceError>.success(Material(certificates: $0.certificates, keys: $0.keys)) }
                ?? (object.kind == .certificatestores ? parseCertificateStore(object) : parse(object))
            switch parsed {
            case .success(let material):
                let properties: JSONValue = fetched?.properties ?? (material.certificates.isEmpty
                    ? ["keys": .array(material.keys.map { ["name": .string($0.name), "type": .string($0.key.kind.description)] })]
                    : ["certificates": .array(material.certificates.map { ["subject": .string($0.subjectRFC2253), "notAfter": .string(ISO8601DateFormatter().string(from: $0.notAfter))] })])
                outcomes[object.key] = ResourceOutcome(error: nil, properties: properties)
                if object.kind == .certificatestores {
                    // Namespaced in Ratify; named without a namespace, one in ratify's own.
                    let namespace = object.namespace ?? ratifyNamespace
                    namespaced[namespace, default: [:]][object.name] = material
                    if namespace == ratifyNamespace { cluster[object.name] = material }
                } else if object.kind == .namespacedkeymanagementproviders, let namespace = object.namespace {
                    namespaced[namespace, default: [:]][object.name] = material
                } else {
                    cluster[object.name] = material
                }
            case .failure(let error):
                outcomes[object.key] = ResourceOutcome(error: error.message)
            }
        }
        var providers = InlineProviders(cluster: cluster, namespaced: namespaced, namespace: nil, ratifyNamespace: ratifyNamespace)
        let specs = objects.map { "\($0.key)=\(JSONWriter.encodeString($0.spec))\(remote[$0.key].map { " material=" + $0.digest } ?? "")" }
            .joined(separator: "\n")
        providers.fingerprint = Digest.of(Array(specs.utf8)).hex
        return (providers, outcomes)
    }

    public func scoped(to namespace: String?) -> InlineProviders {
        var scoped = InlineProviders(cluster: cluster, namespaced: namespaced, namespace: namespace, ratifyNamespace: ratifyNamespace)
        scoped.fingerprint = fingerprint + "|" + (namespace ?? "")
        return scoped
    }

    /// `name`: the scope's namespace first, then cluster-wide. `namespace/name` (Ratify's form
    /// for namespaced resources): a namespace's own only; from cluster scope, ratify's own
    /// namespace only (admin-controlled) — never another tenant's.
    func material(_ provider: String) -> Material? {
        if let slash = provider.firstIndex(of: "/") {
            let owner = String(provider[..<slash]), name = String(provider[provider.index(after: slash)...])
            guard owner == (namespace ?? ratifyNamespace) else { return nil }
            return namespaced[owner]?[name] ?? (owner == ratifyNamespace ? cluster[name] : nil)
        }
        if let namespace, let own = namespaced[namespace]?[provider] { return own }
        return cluster[provider]
    }

    public func certificates(provider: String) -> [Certificate]? {
        material(provider).flatMap { $0.certificates.isEmpty ? nil : $0.certificates }
    }

    public func keys(provider: String) -> [ManagedKey]? {
        material(provider).flatMap { $0.keys.isEmpty ? nil : $0.keys }
    }
    /// CertificateStore `spec.provider: inline`, `spec.parameters.value`: PEM certificates.
    static func parseCertificateStore(_ object: ResourceObject) -> Result<Material, ResourceError> {
        let provider = object.spec["provider"]?.stringValue ?? ""
        guard provider == "inline" else {
            return .failure(ResourceError("certificate store provider \"\(provider)\" is not supported here; use inline (or a KeyManagementProvider)"))
        }
        guard let value = object.spec["parameters"]?["value"]?.stringValue, !value.isEmpty,
              let certificates = try? Certificate.pemChain(Array(value.utf8), source: object.name) else {
            return .failure(ResourceError("parameters.value must hold PEM certificates"))
        }
        return .success(Material(certificates: certificates))
    }

    static func parse(_ object: ResourceObject) -> Result<Material, ResourceError> {
        let type = object.spec["type"]?.stringValue ?? ""
        guard type == "inline" else {
            return .failure(ResourceError("key management provider type \"\(type)\" is not supported; use inline or azurekeyvault"))
        }
        guard let value = object.spec["parameters"]?["value"]?.stringValue, !value.isEmpty else {
            return .failure(ResourceError("parameters.value must hold PEM content"))
        }
        switch object.spec["parameters"]?["contentType"]?.stringValue {
        case "certificate":
            guard let certificates = try? Certificate.pemChain(Array(value.utf8), source: object.name) else {
                return .failure(ResourceError("parameters.value holds no PEM certificate"))
            }
            return .success(Material(certificates: certificates))
        case "key":
            do {
                return .success(Material(keys: [ManagedKey(name: object.name, version: nil, key: try PublicKey.pem(Array(value.utf8), source: object.name))]))
            } catch {
                return .failure(ResourceError("parameters.value: \(error.message)"))
            }
        case let other:
            return .failure(ResourceError("parameters.contentType \(other.map { "\"\($0)\"" } ?? "(missing)") must be certificate or key"))
        }
    }
}
