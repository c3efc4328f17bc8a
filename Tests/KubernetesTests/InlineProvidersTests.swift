import Foundation
import JSON
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
}
