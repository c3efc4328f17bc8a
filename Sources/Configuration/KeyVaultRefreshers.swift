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
        var latest: RemoteMaterial?
        /// The last successful fetch's status properties: kept on the status while failing, as Ratify does.
        var lastGoodProperties: JSONValue?
        var fetches = 0
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
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

    /// Fetches so far per resource key (tests).
    func fetches(_ key: String) -> Int { lock.withLock { entries[key]?.fetches ?? 0 } }

    /// Brings the loops in line with the resources (start new or changed ones, stop removed ones)
    /// and returns what each has now.
    func sync(_ resources: ResourceSet) -> [String: RemoteMaterial] {
        var result: [String: RemoteMaterial] = [:]
        var wanted: Set<String> = []
        for object in resources.objects.values
        where [.keymanagementproviders, .namespacedkeymanagementproviders].contains(object.kind) && object.spec["type"]?.stringValue == "azurekeyvault" {
            wanted.insert(object.key)
            let spec: KeyVaultSpec
            do throws(KeyVaultError) {
                spec = try KeyVaultSpec.parse(object.spec["parameters"], refreshInterval: object.spec["refreshInterval"]?.stringValue)
            } catch {
                stop(object.key)
                result[object.key] = RemoteMaterial(error: "\(error.code): Failed to create key management provider from CR: \(error.message)")
                continue
            }
            let current = lock.withLock { entries[object.key] }
            if let current, current.spec == spec {
                result[object.key] = current.latest ?? RemoteMaterial(error: "KEY_MANAGEMENT_PROVIDER_FAILURE: fetching from \(spec.vaultURI) (first fetch in progress)")
                continue
            }
            stop(object.key)
            let client: KeyVaultClient
            do throws(KeyVaultError) {
                client = try KeyVaultClient(spec: spec, environment: environment, http: http, name: object.key)
            } catch {
                result[object.key] = RemoteMaterial(error: "PLUGIN_INIT_FAILURE: failed to create keyvault client: \(error.description)")
                continue
            }
            let key = object.key
            let task = Task { [weak self] () -> Void in await self?.run(key, client) }
            lock.withLock { entries[key] = Entry(spec: spec, task: task) }
            result[key] = RemoteMaterial(error: "KEY_MANAGEMENT_PROVIDER_FAILURE: fetching from \(spec.vaultURI) (first fetch in progress)")
        }
        for key in lock.withLock({ Array(entries.keys) }) where !wanted.contains(key) { stop(key) }
        return result
    }

    private func stop(_ key: String) {
        lock.withLock { entries.removeValue(forKey: key) }?.task.cancel()
    }

    private func run(_ key: String, _ client: KeyVaultClient) async {
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
                let previous = lock.withLock { entries[key]?.lastGoodProperties }
                outcome = RemoteMaterial(properties: previous, error: "KEY_MANAGEMENT_PROVIDER_FAILURE: Unable to fetch from key management provider [\(key)] of type [azurekeyvault]: \(error.description)")
                wait = backoff
                backoff = min(backoff * 2, .seconds(300))
                logger.warning("key management provider fetch failed; retrying", metadata: ["provider": "\(key)", "error": "\(error)", "retryIn": "\(wait!)"])
            }
            guard !Task.isCancelled else { return }
            let changed: Bool = lock.withLock {
                guard var entry = entries[key] else { return false }
                let changed = entry.latest?.digest != outcome.digest
                // Same material: keep the earlier properties (their LastRefreshed) so nothing changes.
                if changed { entry.latest = outcome }
                if outcome.error == nil { entry.lastGoodProperties = entry.latest?.properties }
                entry.fetches += 1
                entries[key] = entry
                return changed
            }
            if changed { onChange() }
            guard let wait else { return }
            try? await Task.sleep(for: wait)
        }
    }
}
