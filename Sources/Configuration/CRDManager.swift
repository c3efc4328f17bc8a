import Core
import Foundation
import JSON
import Kubernetes
import Logging
import Plugins
import Registry

/// `--enable-crd-manager`: Ratify's Verifier / Store / Policy / KeyManagementProvider resources
/// (and their Namespaced variants) watched live. Every change that touches a spec rebuilds the
/// executors — the cluster's and one per namespace with Namespaced* resources — and swaps them in
/// atomically; every resource gets a status written back (issuccess, error, brieferror,
/// lastfetchedtime, properties). The config file still supplies executor timeouts and logging;
/// the resources supply what to verify with.
public final class CRDManager: @unchecked Sendable {
    public typealias Build = @Sendable (RatifyConfig, (any KeyManagementProviders)?, UInt64) throws(ConfigurationError) -> any ProviderExecutor

    let client: KubeClient
    let base: JSONValue
    let holder: ExecutorHolder
    let build: Build
    let logger: Logger
    /// Where secrets without a namespace are looked up (ratify's own namespace).
    let defaultNamespace: String
    private(set) var watchers: [ResourceWatcher] = []
    private let lock = NSLock()
    private var dirty = false
    private var rebuilding = false
    /// What was last written per resource (generation + outcome), so our own status writes —
    /// which come back as MODIFIED events — do not loop.
    private var written: [String: (generation: Int, outcome: ResourceOutcome)] = [:]
    /// Rebuilds done, for tests and logs.
    public private(set) var rebuilds = 0
    /// Dynamic plugins installed, per resource: the (generation, artifact) they came from and
    /// the digest pulled — a resource is pulled again only when it changes.
    private var plugins: [String: (generation: Int, artifact: String, digest: String, path: String, fileHash: String)] = [:]
    private let environment: [String: String]
    /// `azurekeyvault` KeyManagementProviders' fetch loops.
    private(set) var keyVaults: KeyVaultRefreshers!

    public init(client: KubeClient, base: JSONValue, holder: ExecutorHolder, logger: Logger,
                defaultNamespace: String = ProcessInfo.processInfo.environment["RATIFY_NAMESPACE"] ?? "gatekeeper-system",
                environment: [String: String] = ProcessInfo.processInfo.environment, build: @escaping Build) {
        self.defaultNamespace = defaultNamespace
        self.environment = environment
        self.client = client
        self.base = base
        self.holder = holder
        self.logger = logger
        self.build = build
        keyVaults = KeyVaultRefreshers(environment: environment, logger: logger) { [weak self] in self?.scheduleRebuild() }
    }

    public func start() {
        watchers = RatifyKind.allCases.map { kind in
            ResourceWatcher(kind: kind, client: client) { [weak self] in self?.scheduleRebuild() }
        }
        for watcher in watchers {
            let kind = watcher.kind
            watcher.start { [logger] error in
                logger.warning("watching \(kind.rawValue) failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    public func stop() {
        watchers.forEach { $0.stop() }
        keyVaults.stopAll()
    }

    /// Changes arrive in bursts (the initial lists, kubectl apply -f dir/): coalesce them, and
    /// run one rebuild at a time — a slow rebuild (secrets to fetch) finishing after a newer one
    /// would otherwise swap a stale configuration back in.
    func scheduleRebuild() {
        let start: Bool = lock.withLock {
            dirty = true
            if rebuilding { return false }
            rebuilding = true
            return true
        }
        guard start else { return }
        Task {
            while true {
                try? await Task.sleep(for: .milliseconds(100))
                lock.withLock { dirty = false }
                await rebuild()
                let again: Bool = lock.withLock {
                    if dirty { return true }
                    rebuilding = false
                    return false
                }
                if !again { return }
            }
        }
    }

    public func rebuild() async {
        var resources = ResourceSet()
        for watcher in watchers {
            for object in watcher.snapshot { resources.objects[object.key] = object }
        }
        logger.debug("rebuilding from custom resources", metadata: ["resources": "\(resources.objects.count)"])
        var secretProblems: [String: String] = [:]
        for object in resources.objects.values where object.kind == .stores || object.kind == .namespacedstores {
            switch await resolveSecrets(object) {
            case .success(let resolved?): resources.objects[object.key] = resolved
            case .success(nil): break
            case .failure(let error): secretProblems[object.key] = error.message
            }
        }
        let (providers, kmpOutcomes) = InlineProviders.build(resources, ratifyNamespace: defaultNamespace, remote: keyVaults.sync(resources))
        var outcomes = kmpOutcomes
        let pluginResults = await installPlugins(resources)
        // Each verifier, store and policy is checked on its own, so one bad resource is reported
        // on itself and left out instead of taking the others down (as Ratify does). Verifiers
        // are parsed here once and handed to every executor that uses them.
        var valid = resources
        var verifiers: [String: VerifierConfig] = [:]
        for object in resources.objects.values {
            let problem: String?
            switch object.kind {
            case .verifiers, .namespacedverifiers:
                if case .failure(let message) = pluginResults[object.key] {
                    problem = message
                    break
                }
                do throws(ConfigError) {
                    verifiers[object.key] = try VerifierConfig.parse(ResourceSet.verifierPlugin(object), path: "spec").0
                    problem = nil
                } catch {
                    problem = "\(error.path): \(error.message)"
                }
            case .stores, .namespacedstores:
                if case .failure(let message) = pluginResults[object.key] {
                    problem = message
                    break
                }
                if object.kind == .namespacedstores, let name = object.spec["parameters"]?["authProvider"]?["name"]?.stringValue,
                   ORASStoreOptions.cloudAuthProviders.contains(name) {
                    // The tenant would choose where ratify's cloud identity sends its tokens
                    // (`endpoints`, `clientID`, `useHttp`): a cluster administrator configures it.
                    problem = "authProvider \(name) is not accepted on namespacedstores: it uses ratify's own cloud identity; a cluster administrator configures it in a (cluster) Store"
                    break
                }
                problem = secretProblems[object.key] ?? check(["store": ["plugins": [ResourceSet.storePlugin(object)]]])
            case .policies, .namespacedpolicies:
                switch ResourceSet.policyPlugin(object) {
                case .failure(let error): problem = error.message
                case .success(let plugin): problem = check(["policy": ["plugin": plugin]])
                }
            case .keymanagementproviders, .namespacedkeymanagementproviders, .certificatestores:
                continue
            }
            var properties: JSONValue?
            if case .success(let installed) = pluginResults[object.key] {
                properties = ["pluginDigest": .string(installed.digest), "pluginPath": .string(installed.path), "source": .string(installed.artifact)]
            }
            outcomes[object.key] = ResourceOutcome(error: problem, properties: properties)
            if problem != nil { valid.objects[object.key] = nil }
        }
        let generation = holder.generation + 1
        /// The configuration of one scope: the document for executor, store and policy, and the
        /// verifiers already parsed.
        func configuration(_ namespace: String?) throws(ConfigurationError) -> RatifyConfig {
            let (document, problems) = valid.document(base: base, namespace: namespace)
            for (key, message) in problems { outcomes[key] = ResourceOutcome(error: message) }
            return try RatifyConfig.interpret(document, source: namespace.map { "namespace \($0)" } ?? "custom resources",
                                              verifiers: valid.verifierObjects(namespace: namespace).compactMap { verifiers[$0.key] })
        }
        do throws(ConfigurationError) {
            let cluster = try build(try configuration(nil), providers, generation)
            var tenants: [String: any ProviderExecutor] = [:]
            // One namespace's unusable resources must not freeze the others (nor the cluster's):
            // that namespace fails closed, its resources say why, the rest is rebuilt.
            for namespace in valid.tenantNamespaces {
                do throws(ConfigurationError) {
                    tenants[namespace] = try build(try configuration(namespace), providers.scoped(to: namespace), generation)
                } catch {
                    tenants[namespace] = UnconfiguredExecutor(reason: "the resources of namespace \(namespace) give no usable configuration (\(error.message))")
                    for object in valid.objects.values where object.namespace == namespace
                        && [.namespacedverifiers, .namespacedstores, .namespacedpolicies].contains(object.kind) {
                        outcomes[object.key] = ResourceOutcome(error: "namespace \(namespace) has no usable configuration: \(error.message)")
                    }
                    logger.error("namespace \(namespace) fails closed: its resources give no usable configuration", metadata: ["error": "\(error)"])
                }
            }
            holder.replace(with: NamespaceRoutingExecutor(cluster: cluster, namespaces: tenants))
            lock.withLock { rebuilds += 1 }
            logger.info("configuration rebuilt from custom resources", metadata: [
                "generation": "\(holder.generation)", "resources": "\(resources.objects.count)", "namespaces": "\(tenants.keys.sorted())"])
        } catch {
            logger.error("custom resources give no usable configuration; still serving the previous one", metadata: ["error": "\(error)"])
        }
        await writeStatuses(resources, outcomes)
    }

    enum PluginResult { case success((artifact: String, digest: String, path: String)), failure(String) }

    /// Verifiers and Stores with `spec.source.artifact` (Ratify's dynamic plugins): pulled into
    /// the plugin directory as `<type or name>` when the feature flag is on and the resource is
    /// new or changed; refused, with the reason, when it is off.
    func installPlugins(_ resources: ResourceSet) async -> [String: PluginResult] {
        var results: [String: PluginResult] = [:]
        let sources = resources.objects.values.filter {
            [.verifiers, .namespacedverifiers, .stores, .namespacedstores].contains($0.kind) && !($0.spec["source"]?["artifact"]?.stringValue ?? "").isEmpty
        }
        guard !sources.isEmpty else { return results }
        // Plugins live in one directory for the whole process: a namespace must not be able to
        // put (or replace) an executable there that the cluster's verifiers then run.
        for object in sources where object.kind == .namespacedverifiers || object.kind == .namespacedstores {
            results[object.key] = .failure("spec.source is not accepted on \(object.kind.rawValue): plugins are shared by the whole cluster; a cluster administrator installs them with a Verifier or Store")
        }
        guard DynamicPlugin.enabled(environment) else {
            for object in sources where results[object.key] == nil {
                results[object.key] = .failure("spec.source.artifact names a dynamic plugin, and dynamic plugins are disabled: set featureFlags.\(DynamicPlugin.featureFlag)=true (env \(DynamicPlugin.featureFlag)=1)")
            }
            return results
        }
        // Pulled with the cluster store's settings (plain HTTP, credentials), or the source's own authProvider.
        let clusterStore = resources.objects.values.first(where: { $0.kind == .stores && ($0.spec["name"]?.stringValue ?? "oras") == "oras" })
            .map(ResourceSet.storePlugin)
        var owners: [String: String] = [:]
        for object in sources.sorted(by: { $0.key < $1.key }) where results[object.key] == nil {
            let artifact = object.spec["source"]!["artifact"]!.stringValue!
            let isVerifier = object.kind == .verifiers || object.kind == .namespacedverifiers
            let name = (isVerifier ? object.spec["type"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } : nil) ?? object.spec["name"]?.stringValue ?? object.name
            let directory = object.spec["address"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? PluginDirectory.resolve(nil, environment: environment)
            let target = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if let owner = owners[target] {
                results[object.key] = .failure("\(owner) already installs the plugin \(target); two resources cannot install the same executable")
                continue
            }
            owners[target] = object.key
            var authProvider = object.spec["source"]?["authProvider"]
            if let provider = authProvider, provider["name"]?.stringValue == "k8Secrets",
               let holder = ResourceObject(kind: object.kind, ["metadata": ["name": .string(object.name), "namespace": object.namespace.map { .string($0) } ?? .null],
                                                                 "spec": ["parameters": ["authProvider": provider]]]) {
                switch await resolveSecrets(holder) {
                case .success(let resolved?): authProvider = resolved.spec["parameters"]?["authProvider"]
                case .success(nil): break
                case .failure(let error):
                    results[object.key] = .failure("spec.source.authProvider: \(error.message)")
                    continue
                }
            }
            let options: ORASStoreOptions
            do throws(ConfigurationError) { options = try PluginSources.pullOptions(store: clusterStore, authProvider: authProvider) } catch {
                results[object.key] = .failure(error.message)
                continue
            }
            // Installed before and still the same bytes on disk: nothing to pull.
            if let done = lock.withLock({ plugins[object.key] }), done.generation == object.generation, done.artifact == artifact,
               let onDisk = FileManager.default.contents(atPath: done.path), Digest.of(Array(onDisk)).hex == done.fileHash {
                results[object.key] = .success((artifact, done.digest, done.path))
                continue
            }
            do throws(DynamicPlugin.Failure) {
                let installed = try await PluginSources.install(PluginSources.Source(name: name, directory: directory, artifact: artifact, authProvider: authProvider,
                                                                                      path: object.key), options: options, deadline: .now + .seconds(30))
                let fileHash = FileManager.default.contents(atPath: installed.path).map { Digest.of(Array($0)).hex } ?? ""
                lock.withLock { plugins[object.key] = (object.generation, artifact, installed.digest.description, installed.path, fileHash) }
                logger.info("downloaded \(isVerifier ? "verifier" : "store") plugin \(name) from \(artifact)@\(installed.digest) to \(installed.path)")
                results[object.key] = .success((artifact, installed.digest.description, installed.path))
            } catch {
                results[object.key] = .failure(error.description)
            }
        }
        return results
    }

    /// `authProvider: {name: k8Secrets, serviceAccountName, secrets: [{secretName, namespace}]}`
    /// (Ratify's k8Secrets provider): the listed `kubernetes.io/dockerconfigjson` secrets (a
    /// missing one is skipped, as Ratify skips it), then the `imagePullSecrets` of the service
    /// account (`serviceAccountName`, else `default`; the chart's `k8secretsEnabled` names
    /// ratify's), read through the API and decoded into `authProvider.resolved` for the store.
    /// Secrets and the account are read in ratify's namespace — or, for a NamespacedStore, only
    /// in its own namespace: a tenant never reaches another namespace's credentials.
    func resolveSecrets(_ store: ResourceObject) async -> Result<ResourceObject?, ResourceError> {
        guard let auth = store.spec["parameters"]?["authProvider"], auth["name"]?.stringValue == "k8Secrets" else { return .success(nil) }
        let tenant = store.kind.isNamespaced ? store.namespace : nil
        let home = tenant ?? defaultNamespace
        var names: [(name: String, namespace: String, fromAccount: Bool)] = []
        for entry in auth["secrets"]?.arrayValue ?? [] {
            guard let name = entry["secretName"]?.stringValue else { return .failure(ResourceError("authProvider.secrets[] needs secretName")) }
            let namespace = entry["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? home
            if let tenant, namespace != tenant {
                return .failure(ResourceError("authProvider.secrets: secret \(namespace)/\(name) is outside namespace \(tenant); a namespaced resource reads only its own namespace's secrets"))
            }
            names.append((name, namespace, false))
        }
        let namedAccount = auth["serviceAccountName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let account = namedAccount ?? "default"
        do throws(KubeError) {
            let object = try await client.get("/api/v1/namespaces/\(home)/serviceaccounts/\(account)")
            for reference in object["imagePullSecrets"]?.arrayValue ?? [] {
                if let name = reference["name"]?.stringValue { names.append((name, home, true)) }
            }
        } catch {
            // A named account must exist; the implicit `default` one may not be readable.
            if namedAccount != nil { return .failure(ResourceError("cannot read service account \(home)/\(account): \(error.message)")) }
        }
        var resolved: [JSONValue] = []
        for (name, namespace, fromAccount) in names {
            let secret: JSONValue
            do throws(KubeError) { secret = try await client.get("/api/v1/namespaces/\(namespace)/secrets/\(name)") } catch {
                if error.status == 404 {
                    logger.warning("registry secret \(namespace)/\(name) not found; skipped", metadata: ["store": "\(store.key)"])
                    continue
                }
                return .failure(ResourceError("cannot read secret \(namespace)/\(name): \(error.message)"))
            }
            let type = secret["type"]?.stringValue
            if type == "kubernetes.io/dockerconfigjson", let encoded = secret["data"]?[".dockerconfigjson"]?.stringValue,
               let bytes = Data(base64Encoded: encoded), let document = try? JSONParser.parse(Array(bytes)) {
                resolved.append(document)
            } else if fromAccount, type == "kubernetes.io/dockercfg", let encoded = secret["data"]?[".dockercfg"]?.stringValue,
                      let bytes = Data(base64Encoded: encoded), let legacy = try? JSONParser.parse(Array(bytes)), legacy.objectValue != nil {
                // The legacy ~/.dockercfg form is the `auths` map itself.
                resolved.append(["auths": legacy])
            } else {
                return .failure(ResourceError("secret \(namespace)/\(name) is not a kubernetes.io/dockerconfigjson secret"))
            }
        }
        var spec = store.spec.objectValue ?? JSONObject()
        var parameters = spec["parameters"]?.objectValue ?? JSONObject()
        var provider = auth.objectValue ?? JSONObject()
        provider["resolved"] = .array(resolved)
        parameters["authProvider"] = .object(provider)
        spec["parameters"] = .object(parameters)
        return .success(store.replacingSpec(.object(spec)))
    }

    /// Whether a store or policy section loads on its own; the reason when it does not.
    func check(_ document: JSONValue) -> String? {
        do throws(ConfigurationError) {
            _ = try RatifyConfig.interpret(document, source: "resource")
            return nil
        } catch {
            return error.message
        }
    }

    func writeStatuses(_ resources: ResourceSet, _ outcomes: [String: ResourceOutcome]) async {
        logger.debug("writing resource statuses", metadata: ["resources": "\(resources.objects.count)"])
        defer { logger.debug("resource statuses written") }
        for object in resources.objects.values {
            let outcome = outcomes[object.key] ?? ResourceOutcome()
            let unchanged = lock.withLock { written[object.key].map { $0.generation == object.generation && $0.outcome == outcome } ?? false }
            guard !unchanged else { continue }
            do throws(KubeError) {
                try await client.patchStatus(object.kind.objectPath(namespace: object.namespace, name: object.name), status: outcome.status(at: Date()))
                lock.withLock { written[object.key] = (object.generation, outcome) }
                if let error = outcome.error {
                    logger.warning("\(object.kind.rawValue) \(object.namespace.map { "\($0)/" } ?? "")\(object.name) is not used", metadata: ["error": "\(error)"])
                }
            } catch {
                logger.warning("cannot write the status of \(object.kind.rawValue) \(object.name)", metadata: ["error": "\(error)"])
            }
        }
    }
}

