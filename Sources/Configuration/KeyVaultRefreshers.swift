import CloudIdentity
import Core
import Foundation
import JSON
import Kubernetes
import Logging

/// The fetch loops of `azurekeyvault` KeyManagementProviders, one per resource: fetched when
/// the resource appears or changes, again every `refreshInterval` (none: once), retried with
/// backoff (5 s doubling to 5 min) after a failure — as Ratify's controller requeues. A change of
/// material (a rotated certificate, a new key version, a failure or a recovery) asks for a
/// rebuild, which swaps the material in atomically with the rest of the configuration; a refresh
/// that finds the same material changes nothing (verdict caches stay warm).
final class KeyVaultRefreshers: @unchecked Sendable {
    struct Entry {
        let spec: KeyVaultSpec
        let task: Task<Void, Never>
        /// Which loop owns the entry: a loop of an earlier spec never writes into a newer one.
        let generation: Int
        var latest: RemoteMaterial?
        /// The last successful fetch's status properties: kept on the status while failing, as Ratify does.
        var lastGoodProperties: JSONValue?
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var nextGeneration = 0
    let environment: [String: String]
    let http: CloudHTTP
    let logger: Logger
    let onChange: @Sendable () -> Void

    init(environment: [String: String], http: CloudHTTP = CloudHTTP(), logger: Logger, onChange: @escaping @Sendable () -> Void) {
        self.environment = environment
        self.http = http
        self.logger = logger
        self.onChange = onChange
    }

    deinit { lock.withLock { entries.values.forEach { $0.task.cancel() } } }

    /// Brings the loops in line with the resources (start new or changed ones, stop removed ones)
    /// and returns what each has now.
    func sync(_ resources: ResourceSet) -> [String: RemoteMaterial] {
        var result: [String: RemoteMaterial] = [:]
        var wanted: Set<String> = []
        for object in resources.objects.values
        where [.keymanagementproviders, .namespacedkeymanagementproviders].contains(object.kind) && object.spec["type"]?.stringValue == "azurekeyvault" {
            wanted.insert(object.key)
            if object.kind == .namespacedkeymanagementproviders {
                // The tenant would choose the vault (and tenant/client) ratify's identity sends its
                // Key Vault token to: a cluster administrator configures vaults.
                result[object.key] = RemoteMaterial(error: "CONFIG_INVALID: type azurekeyvault is not accepted on namespacedkeymanagementproviders: it uses ratify's own workload identity; a cluster administrator configures the vault in a (cluster) KeyManagementProvider")
                continue
            }
            let spec: KeyVaultSpec
            do throws(KeyVaultError) {
                spec = try KeyVaultSpec.parse(object.spec["parameters"], refreshInterval: object.spec["refreshInterval"]?.stringValue)
            } catch {
                stop(object.key)
                result[object.key] = RemoteMaterial(error: "\(error.code): Failed to create key management provider from CR: \(error.message)")
                continue
            }
            // Compared and replaced in one critical section: two rebuilds syncing at once must not
            // both start a loop for the resource (one would be orphaned, fetching forever).
            let key = object.key
            let outcome: RemoteMaterial = lock.withLock {
                if let current = entries[key], current.spec == spec {
                    return current.latest ?? RemoteMaterial(error: "KEY_MANAGEMENT_PROVIDER_FAILURE: fetching from \(spec.vaultURI) (first fetch in progress)")
                }
                entries.removeValue(forKey: key)?.task.cancel()
                let client: KeyVaultClient
                do throws(KeyVaultError) {
                    client = try KeyVaultClient(spec: spec, environment: environment, http: http, name: key)
                } catch {
                    return RemoteMaterial(error: "PLUGIN_INIT_FAILURE: failed to create keyvault client: \(error.description)")
                }
                nextGeneration += 1
                let generation = nextGeneration
                let task = Task { [weak self] () -> Void in await self?.run(key, client, generation: generation) }
                entries[key] = Entry(spec: spec, task: task, generation: generation)
                return RemoteMaterial(error: "KEY_MANAGEMENT_PROVIDER_FAILURE: fetching from \(spec.vaultURI) (first fetch in progress)")
            }
            result[key] = outcome
        }
        for key in lock.withLock({ Array(entries.keys) }) where !wanted.contains(key) { stop(key) }
        return result
    }

    private func stop(_ key: String) {
        lock.withLock { entries.removeValue(forKey: key) }?.task.cancel()
    }

    /// Stops every loop (the manager is stopping).
    func stopAll() {
        lock.withLock {
            entries.values.forEach { $0.task.cancel() }
            entries.removeAll()
        }
    }

    private func run(_ key: String, _ client: KeyVaultClient, generation: Int) async {
        var backoff: Duration = .seconds(5)
        while !Task.isCancelled {
            let outcome: RemoteMaterial
            var wait: Duration?
            do throws(KeyVaultError) {
                let material = try await client.fetch()
                outcome = RemoteMaterial(certificates: material.certificates, keys: material.keys, properties: material.properties)
                backoff = .seconds(5)
                wait = client.spec.refreshInterval
                logger.info("key management provider fetched", metadata: [
                    "provider": "\(key)", "vault": "\(client.spec.vaultURI)",
                    "certificates": "\(material.certificates.count)", "keys": "\(material.keys.count)"])
            } catch {
                let previous = lock.withLock { entries[key].flatMap { $0.generation == generation ? $0.lastGoodProperties : nil } }
                outcome = RemoteMaterial(properties: previous, error: "KEY_MANAGEMENT_PROVIDER_FAILURE: Unable to fetch from key management provider [\(key)] of type [azurekeyvault]: \(error.description)")
                wait = backoff
                backoff = min(backoff * 2, .seconds(300))
                logger.warning("key management provider fetch failed; retrying", metadata: ["provider": "\(key)", "error": "\(error)", "retryIn": "\(wait!)"])
            }
            guard !Task.isCancelled else { return }
            let changed: Bool = lock.withLock {
                guard var entry = entries[key], entry.generation == generation else { return false }
                let changed = entry.latest?.digest != outcome.digest
                // Same material: keep the earlier properties (their LastRefreshed) so nothing changes.
                if changed { entry.latest = outcome }
                if outcome.error == nil { entry.lastGoodProperties = entry.latest?.properties }
                entries[key] = entry
                return changed
            }
            if changed { onChange() }
            guard let wait else { return }
            try? await Task.sleep(for: wait)
        }
    }
}
