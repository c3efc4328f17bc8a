import Foundation
import JSON
import Crypto
import Kubernetes
import Testing
import TestSupport

/// KeyManagementProviders and the deprecated CertificateStores (`provider: inline`, which
/// Ratify 1.4 still reads and its Venafi guide applies) become the certificates verifiers name.
@Suite struct InlineProvidersTests {
    static func object(_ kind: RatifyKind, _ name: String, namespace: String? = nil, spec: JSONValue) -> ResourceObject {
        var metadata: JSONObject = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        return ResourceObject(kind: kind, ["metadata": .object(metadata), "spec": spec])!
    }

    @Test func inlineCertificateStoreIsACertificateProviderForEveryScope() throws {
        let pki = try TestPKI()
        let ca = try pki.makeCA("venafi-ca")
        let pem = try String(contentsOfFile: ca.certificate, encoding: .utf8)
        var resources = ResourceSet()
        for object in [
            Self.object(.certificatestores, "certstore-inline", namespace: "gatekeeper-system", spec: ["provider": "inline", "parameters": ["value": .string(pem)]]),
            Self.object(.certificatestores, "empty", spec: ["provider": "inline", "parameters": ["value": ""]]),
            Self.object(.certificatestores, "vault", spec: ["provider": "azurekeyvault", "parameters": [:]]),
        ] { resources.objects[object.key] = object }
        let (providers, outcomes) = InlineProviders.build(resources)
        // Named by a notation verifier's verificationCertStores without a namespace, and from any namespace.
        #expect(providers.certificates(provider: "certstore-inline")?.first?.subjectRFC2253 == "CN=venafi-ca")
        #expect(providers.scoped(to: "team-a").certificates(provider: "certstore-inline")?.count == 1)
        #expect(outcomes["certificatestores/gatekeeper-system/certstore-inline"]?.error == nil)
        #expect(outcomes["certificatestores/gatekeeper-system/certstore-inline"]?.properties?["certificates"]?.arrayValue?.first?["subject"] == "CN=venafi-ca")
        #expect(outcomes["certificatestores//empty"]?.error == "parameters.value must hold PEM certificates")
        #expect(outcomes["certificatestores//vault"]?.error?.contains("provider \"azurekeyvault\" is not supported here") == true)
        #expect(providers.certificates(provider: "empty") == nil)
    }

    /// Ratify's `namespace/name` references: a namespace's own resources; from cluster scope only
    /// ratify's own namespace. A CertificateStore elsewhere is not cluster-wide; a
    /// KeyManagementProvider wins over a CertificateStore of the same name.
    @Test func namespacedReferencesNeverReachAnotherTenant() throws {
        let pki = try TestPKI()
        let pems = try ["kmp-ca", "store-ca", "team-ca"].map { try String(contentsOfFile: try pki.makeCA($0).certificate, encoding: .utf8) }
        var resources = ResourceSet()
        for object in [
            Self.object(.keymanagementproviders, "shared", spec: ["type": "inline", "parameters": ["contentType": "certificate", "value": .string(pems[0])]]),
            Self.object(.certificatestores, "shared", namespace: "gatekeeper-system", spec: ["provider": "inline", "parameters": ["value": .string(pems[1])]]),
            Self.object(.namespacedkeymanagementproviders, "kmp-akv-ca", namespace: "gatekeeper-system", spec: ["type": "inline", "parameters": ["contentType": "certificate", "value": .string(pems[1])]]),
            Self.object(.certificatestores, "team-store", namespace: "team-a", spec: ["provider": "inline", "parameters": ["value": .string(pems[2])]]),
        ] { resources.objects[object.key] = object }
        let (providers, _) = InlineProviders.build(resources, ratifyNamespace: "gatekeeper-system")
        func subject(_ p: InlineProviders, _ name: String) -> String? { p.certificates(provider: name)?.first?.subjectRFC2253 }
        #expect(subject(providers, "shared") == "CN=kmp-ca")
        #expect(subject(providers, "gatekeeper-system/kmp-akv-ca") == "CN=store-ca")
        #expect(subject(providers, "gatekeeper-system/shared") == "CN=store-ca")
        #expect(subject(providers, "team-store") == nil)
        #expect(subject(providers, "team-a/team-store") == nil)
        let teamA = providers.scoped(to: "team-a")
        #expect(subject(teamA, "team-store") == "CN=team-ca")
        #expect(subject(teamA, "team-a/team-store") == "CN=team-ca")
        #expect(subject(teamA, "gatekeeper-system/kmp-akv-ca") == nil)
        #expect(subject(providers.scoped(to: "team-b"), "team-a/team-store") == nil)
    }

    /// Issue #20: an `azurekeyvault` provider's material comes from its fetch loop: served under
    /// the resource's name with the vault's status properties; while it has none (not fetched
    /// yet, or the last fetch failed) verifiers naming it get nothing and the status says why;
    /// the providers' fingerprint follows the material (a rotation changes shared-cache keys).
    @Test func keyVaultMaterialIsServedOnlyWhileItsLastFetchSucceeded() throws {
        let pki = try TestPKI()
        let pem = try String(contentsOfFile: try pki.makeCA("akv-ca").certificate, encoding: .utf8)
        let certificate = try Certificate.pemChain(Array(pem.utf8), source: "t")
        var resources = ResourceSet()
        let vault = Self.object(.keymanagementproviders, "kmprovider-akv", spec: ["type": "azurekeyvault", "parameters": ["vaultURI": "https://v.vault.azure.net"]])
        resources.objects[vault.key] = vault
        let properties: JSONValue = ["Certificates": [["Name": "c", "Version": "v1", "Enabled": "true", "LastRefreshed": "2026-12-01T00:00:00Z"]], "Keys": []]
        let (fetched, fetchedOutcomes) = InlineProviders.build(resources, remote: [vault.key: RemoteMaterial(certificates: certificate, properties: properties)])
        #expect(fetched.certificates(provider: "kmprovider-akv")?.first?.subjectRFC2253 == "CN=akv-ca")
        #expect(fetchedOutcomes[vault.key] == ResourceOutcome(error: nil, properties: properties))
        let (failing, failingOutcomes) = InlineProviders.build(resources, remote: [vault.key: RemoteMaterial(properties: properties, error: "KEY_MANAGEMENT_PROVIDER_FAILURE: vault down")])
        #expect(failing.certificates(provider: "kmprovider-akv") == nil)
        #expect(failingOutcomes[vault.key] == ResourceOutcome(error: "KEY_MANAGEMENT_PROVIDER_FAILURE: vault down", properties: properties))
        let (pending, pendingOutcomes) = InlineProviders.build(resources)
        #expect(pending.certificates(provider: "kmprovider-akv") == nil)
        #expect(pendingOutcomes[vault.key]?.error?.contains("not fetched") == true)
        let rotated = try Certificate.pemChain(Array(try String(contentsOfFile: try pki.makeCA("akv-ca-2").certificate, encoding: .utf8).utf8), source: "t")
        let (next, _) = InlineProviders.build(resources, remote: [vault.key: RemoteMaterial(certificates: rotated, properties: properties)])
        #expect(next.fingerprint != fetched.fingerprint)
    }
}
