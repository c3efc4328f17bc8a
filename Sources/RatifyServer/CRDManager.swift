import Core
import Foundation
import JSON
import Kubernetes
import Logging

/// `--enable-crd-manager`: Ratify's Verifier / Store / Policy / KeyManagementProvider resources
/// (and their Namespaced variants) watched live. Every change that touches a spec rebuilds the
/// executors — the cluster's and one per namespace with Namespaced* resources — and swaps them in
/// atomically; every resource gets a status written back (issuccess, error, brieferror,
/// lastfetchedtime, properties). The config file still supplies executor timeouts and logging;
/// the resources supply what to verify with.
public final class CRDManager: @unchecked Sendable {
    public typealias Build = @Sendable (ServerConfigFile, (any KeyManagementProviders)?, UInt64) throws(ServeError) -> any ProviderExecutor

    let client: KubeClient
    let base: JSONValue
    let holder: ExecutorHolder
    let build: Build
    let logger: Logger
    private(set) var watchers: [ResourceWatcher] = []
    private let lock = NSLock()
    private var rebuildScheduled = false
    /// What was last written per resource (generation + outcome), so our own status writes —
    /// which come back as MODIFIED events — do not loop.
    private var written: [String: (generation: Int, outcome: ResourceOutcome)] = [:]
    /// Rebuilds done, for tests and logs.
    public private(set) var rebuilds = 0

    public init(client: KubeClient, base: JSONValue, holder: ExecutorHolder, logger: Logger, build: @escaping Build) {
        self.client = client
        self.base = base
        self.holder = holder
        self.logger = logger
        self.build = build
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

    public func stop() { watchers.forEach { $0.stop() } }

    /// Changes arrive in bursts (the initial lists, kubectl apply -f dir/): coalesce them.
    func scheduleRebuild() {
        let schedule: Bool = lock.withLock {
            defer { rebuildScheduled = true }
            return !rebuildScheduled
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: .milliseconds(100))
            lock.withLock { rebuildScheduled = false }
            await rebuild()
        }
    }

    public func rebuild() async {
        var resources = ResourceSet()
        for watcher in watchers {
            for object in watcher.snapshot { resources.objects[object.key] = object }
        }
        let (providers, kmpOutcomes) = InlineProviders.build(resources)
        var outcomes = kmpOutcomes
        // Each verifier, store and policy is checked on its own, so one bad resource is reported
        // on itself and left out instead of taking the others down (as Ratify does).
        var valid = resources
        for object in resources.objects.values {
            let problem: String?
            switch object.kind {
            case .verifiers, .namespacedverifiers:
                problem = check(["verifier": ["plugins": [ResourceSet.verifierPlugin(object)]]], providers: providers.scoped(to: object.namespace)) { config, scoped throws(ServeError) in
                    _ = try ExecutorFactory.verifiers(config, providers: scoped)
                }
            case .stores, .namespacedstores:
                problem = check(["store": ["plugins": [ResourceSet.storePlugin(object)]]], providers: nil) { _, _ throws(ServeError) in }
            case .policies, .namespacedpolicies:
                switch ResourceSet.policyPlugin(object) {
                case .failure(let error): problem = error.message
                case .success(let plugin): problem = check(["policy": ["plugin": plugin]], providers: nil) { _, _ throws(ServeError) in }
                }
            case .certificatestores:
                problem = "CertificateStore is deprecated and not read; use a KeyManagementProvider"
            case .keymanagementproviders, .namespacedkeymanagementproviders:
                continue
            }
            outcomes[object.key] = ResourceOutcome(error: problem)
            if problem != nil, object.kind != .certificatestores { valid.objects[object.key] = nil }
        }
        let generation = holder.generation + 1
        do throws(ServeError) {
            let (clusterDocument, clusterProblems) = valid.document(base: base, namespace: nil)
            for (key, message) in clusterProblems { outcomes[key] = ResourceOutcome(error: message) }
            let cluster = try build(try ServerConfigFile.parse(JSONWriter.encode(clusterDocument), source: "custom resources"), providers, generation)
            var tenants: [String: any ProviderExecutor] = [:]
            for namespace in valid.tenantNamespaces {
                let (document, problems) = valid.document(base: base, namespace: namespace)
                for (key, message) in problems { outcomes[key] = ResourceOutcome(error: message) }
                tenants[namespace] = try build(try ServerConfigFile.parse(JSONWriter.encode(document), source: "namespace \(namespace)"),
                                               providers.scoped(to: namespace), generation)
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

    func check(_ document: JSONValue, providers: (any KeyManagementProviders)?,
               _ body: (ServerConfigFile, (any KeyManagementProviders)?) throws(ServeError) -> Void) -> String? {
        do throws(ServeError) {
            try body(try ServerConfigFile.parse(JSONWriter.encode(document), source: "resource"), providers)
            return nil
        } catch {
            return error.message
        }
    }

    func writeStatuses(_ resources: ResourceSet, _ outcomes: [String: ResourceOutcome]) async {
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

