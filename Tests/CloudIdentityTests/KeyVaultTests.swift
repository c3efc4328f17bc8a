import CloudIdentity
import Core
import Crypto
import Foundation
import HTTPClient
import JSON
import Registry
import Testing
import TestSupport

extension CloudDoublesTests {
/// The Azure Key Vault key management provider: Ratify's own secret fixtures with the verdicts
/// its tests expect, its validation messages, and fetches from the Key Vault double (challenge
/// auth, PEM and PKCS #12 secrets, disabled objects, RSA and EC JWKs made by Python's
/// `cryptography`).
@Suite struct KeyVaultTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Conformance/ratify/derived/akv-provider_test-literals")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func ratifysSecretFixturesGetRatifysVerdicts() throws {
        let chain = try KeyVaultClient.certificates(contentType: "application/x-pem-file", value: try Self.fixture("secret-pem-chain.pem"), name: "c", version: "v")
        #expect(chain.map(\.subjectRFC2253) == ["CN=ratify.default", "CN=Ratify Root CA,O=Ratify"])
        let p12 = try KeyVaultClient.certificates(contentType: "application/x-pkcs12", value: try Self.fixture("secret-pkcs12.b64"), name: "c", version: "v")
        #expect(p12.map(\.subjectRFC2253) == ["CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"])
        #expect(throws: KeyVaultError.self) {
            try KeyVaultClient.certificates(contentType: "application/x-pkcs12", value: try Self.fixture("secret-pkcs12-invalid.b64"), name: "c", version: "v")
        }
        do {
            _ = try KeyVaultClient.certificates(contentType: "text", value: "x", name: "c", version: "v")
            Issue.record("a text secret must be refused")
        } catch {
            #expect(error.code == "CERT_INVALID")
            #expect(error.message.contains("unsupported secret content type text"))
        }
        // No PEM block at all: no certificates, no error (Go's pem.Decode loop).
        #expect(try KeyVaultClient.certificates(contentType: "application/x-pem-file", value: "", name: "c", version: "v").isEmpty)
        #expect(KeyVaultClient.version("https://kindkv.vault.azure.net/secrets/cert1/c55925c29c6743dcb9bb4bf091be03b0") == "c55925c29c6743dcb9bb4bf091be03b0")
    }

    func b64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func jwkKeysAsRatifyReadsThem() throws {
        // Ratify's TestGetKeyFromKeyBundlex: EC-HSM on P-256 at the generator point.
        let g: JSONValue = ["kty": "EC-HSM", "crv": "P-256",
                            "x": .string(b64url(Hash.bytes(hex: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")!)),
                            "y": .string(b64url(Hash.bytes(hex: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")!))]
        #expect(try KeyVaultClient.publicKey(g, name: "k", version: "1").kind == .ecdsa(curve: "prime256v1"))
        var offCurve = g
        if case .object(var object) = offCurve { object["y"] = .string(b64url([UInt8](repeating: 1, count: 32))); offCurve = .object(object) }
        #expect(throws: KeyVaultError.self) { try KeyVaultClient.publicKey(offCurve, name: "k", version: "1") }
        // RSA from n and e; an exponent of 1 (signatures forgeable) or an even one is refused.
        let modulus = b64url([0xC3] + [UInt8](repeating: 0x5A, count: 254) + [0x01])
        #expect(try KeyVaultClient.publicKey(["kty": "RSA-HSM", "n": .string(modulus), "e": "AQAB"], name: "k", version: "1").kind == .rsa(bits: 2048))
        for exponent in ["AQ", "Ag", "AAE"] {
            #expect(throws: KeyVaultError.self) { try KeyVaultClient.publicKey(["kty": "RSA", "n": .string(modulus), "e": .string(exponent)], name: "k", version: "1") }
        }
        for bad: JSONValue in [["crv": "P-256"], ["kty": "abc"], ["kty": "EC", "crv": "P-256K", "x": "AA", "y": "AA"], ["kty": "RSA", "e": "AQAB"]] {
            do {
                _ = try KeyVaultClient.publicKey(bad, name: "k", version: "1")
                Issue.record("\(bad) must be refused")
            } catch {
                #expect(error.code == "KEY_INVALID")
            }
        }
    }

    @Test func parametersAreValidatedInRatifysOrderWithItsMessages() {
        func message(_ parameters: JSONValue?, _ interval: String? = nil) -> String? {
            do throws(KeyVaultError) {
                _ = try KeyVaultSpec.parse(parameters, refreshInterval: interval)
                return nil
            } catch { return error.message }
        }
        let good: JSONValue = ["vaultUri": "https://kv.vault.azure.net/", "tenantId": "t", "clientId": "c", "certificates": [["name": "cert1"]]]
        #expect(message(good) == nil)
        #expect(message(nil) == "no key management provider parameters provided")
        #expect(message(["vaultURI": "https://kv.vault.azure.net"]) == "no keyvault certificates or keys configured")
        #expect(message(["keys": [["name": "k"]]]) == "vaultURI is not set")
        #expect(message(["vaultURI": "https://kv.vault.azure.net", "keys": [["name": "k"]]]) == "tenantID is not set")
        #expect(message(["vaultURI": "https://kv.vault.azure.net", "tenantID": "t", "keys": [["name": "k"]]]) == "clientID is not set")
        #expect(message(["vaultURI": "https://kv.vault.azure.net", "tenantID": "t", "clientID": "c", "certificates": [["version": "1"]]])
                == "name is not set for the 1 th certificate")
        #expect(message(["vaultURI": "https://kv.vault.azure.net", "tenantID": "t", "clientID": "c", "keys": [["name": "a"], ["name": ""]]])
                == "name is not set for the 2 th key")
        #expect(message(good, "1mm")?.contains("Unable to parse interval duration") == true)
        // Go's largest durations: refused or parsed, never a crash (Int64(2^63) traps).
        for huge in ["2562047h47m16.854775807s", "9223372036854775807ns", "9223372036854775808ns", "99999999999h"] {
            _ = message(good, huge)
        }
        #expect(GoDuration.parse("2562047h47m16.854775807s") == nil && GoDuration.parse("1h") == .seconds(3600))
        // Zero: fetched once (Ratify: no requeue); below a second: a second.
        #expect((try? KeyVaultSpec.parse(good, refreshInterval: "0s")).map { $0.refreshInterval == nil } == true)
        #expect((try? KeyVaultSpec.parse(good, refreshInterval: "1ns"))?.refreshInterval == .seconds(1))
        #expect((try? KeyVaultSpec.parse(good, refreshInterval: "1h30m"))?.refreshInterval == .seconds(5400))
        #expect((try? KeyVaultSpec.parse(good, refreshInterval: nil))?.vaultURI == "https://kv.vault.azure.net")
    }

    /// Identity requests carry credentials in their body: a 307 from the endpoint must not make
    /// curl POST them again elsewhere.
    @Test func identityRequestsDoNotFollowRedirects() async throws {
        let doubles = try await offPool { try CloudDoubles(registryAuth: "acr") }
        defer { doubles.stop() }
        let response = try await CloudHTTP(requestTimeout: .seconds(20)).postForm("\(doubles.url)/redirect", [("client_assertion", "secret-assertion")], provider: "t")
        #expect(response.status == 307)
        #expect(doubles.requests("redirect").count == 1)
        #expect(doubles.requests("redirected").isEmpty, "the credential body was re-sent")
        // An identity endpoint answering more than 1 MiB is cut off with an error, not read.
        do {
            _ = try await CloudHTTP(requestTimeout: .seconds(20)).send("GET", "\(doubles.url)/huge", provider: "t")
            Issue.record("a 2 MiB identity answer must be refused")
        } catch {
            #expect(error.code == .credentialProvider)
            #expect(error.message.contains("/huge"), "\(error)")
        }
    }

    static func environment(_ doubles: CloudDoubles) -> [String: String] {
        ["AZURE_FEDERATED_TOKEN_FILE": doubles.serviceAccountToken.path, "AZURE_AUTHORITY_HOST": doubles.url]
    }

    /// Public keys as PEM, made by openssl (the double turns them into JWKs with `cryptography`).
    static func publicKeyPEM(_ algorithm: [String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kv-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path, pub = directory.appendingPathComponent("pub.pem").path
        _ = try ProcessRunner.run("/usr/bin/openssl", ["genpkey"] + algorithm + ["-out", key])
        _ = try ProcessRunner.run("/usr/bin/openssl", ["pkey", "-in", key, "-pubout", "-out", pub])
        return try String(contentsOfFile: pub, encoding: .utf8)
    }

    @Test func fetchesThroughTheChallengeWithDisabledObjectsLeftOut() async throws {
        let (doubles, rsa, ec) = try await offPool {
            (try CloudDoubles(registryAuth: "acr"), try Self.publicKeyPEM(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
             try Self.publicKeyPEM(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]))
        }
        defer { doubles.stop() }
        let vault = "ratify-kv.vault.azure.net"
        ConnectTo.add(["\(vault):80:127.0.0.1:\(doubles.port)"])
        try doubles.set("keyvault", "certificates", [
            "chain": [["version": "aaa1", "contentType": "application/x-pem-file", "value": .string(try Self.fixture("secret-pem-chain.pem"))]],
            "pfx": [["version": "bbb1", "contentType": "application/x-pkcs12", "value": .string(try Self.fixture("secret-pkcs12.b64"))]],
            "off": [["version": "ccc1", "contentType": "application/x-pem-file", "value": "", "enabled": false]],
        ])
        try doubles.set("keyvault", "keys", [
            "rsa": [["version": "old", "pem": .string(ec)], ["version": "r2", "pem": .string(rsa)]],
            "ec": [["version": "e1", "pem": .string(ec), "hsm": true]],
            "gone": [["version": "g1", "pem": .string(ec), "enabled": false]],
        ])
        let spec = try KeyVaultSpec.parse(["vaultURI": .string("http://\(vault)/"), "tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                           "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11",
                                           "certificates": [["name": "chain"], ["name": "pfx", "version": "bbb1"], ["name": "off"]],
                                           "keys": [["name": "rsa"], ["name": "ec"], ["name": "gone"]]], refreshInterval: "1m")
        let client = try KeyVaultClient(spec: spec, environment: Self.environment(doubles), http: CloudHTTP(requestTimeout: .seconds(20)))
        let material = try await client.fetch()
        #expect(material.certificates.count == 3)
        #expect(material.keys.map { "\($0.name)@\($0.version ?? "")" } == ["rsa@r2", "ec@e1"])
        #expect(material.keys.map { $0.key.kind.description }.count == 2)
        let rows = material.properties["Certificates"]?.arrayValue ?? []
        #expect(rows.map { "\($0["Name"]?.stringValue ?? "")/\($0["Version"]?.stringValue ?? "")/\($0["Enabled"]?.stringValue ?? "")" }
                == ["chain/aaa1/true", "chain/aaa1/true", "pfx/bbb1/true", "off/ccc1/false"])
        #expect(material.properties["Keys"]?.arrayValue?.map { $0["Enabled"]?.stringValue ?? "" } == ["true", "true", "false"])
        // One challenge, one Entra ID token for Key Vault's scope, then every request authorized.
        #expect(doubles.requests("entra").map { $0["scope"]?.stringValue ?? "" } == ["https://vault.azure.net/.default"])
        // A second fetch reuses the token.
        _ = try await client.fetch()
        #expect(doubles.requests("entra").count == 1)

        // A vault whose challenge names another domain gets no token.
        let bad = try KeyVaultSpec.parse(["vaultURI": .string(doubles.url), "tenantID": "t", "clientID": "c", "keys": [["name": "rsa"]]], refreshInterval: nil)
        do {
            _ = try await KeyVaultClient(spec: bad, environment: Self.environment(doubles), http: CloudHTTP(requestTimeout: .seconds(20))).fetch()
            Issue.record("a challenge for another domain must be refused")
        } catch {
            #expect(error.code == "AUTH_DENIED")
            #expect(error.message.contains("doesn't match the requested domain"))
        }
        // A missing key fails the whole fetch with Key Vault's reason.
        let missing = try KeyVaultSpec.parse(["vaultURI": .string("http://\(vault)"), "tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                              "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11", "keys": [["name": "nope"]]], refreshInterval: nil)
        do {
            _ = try await KeyVaultClient(spec: missing, environment: Self.environment(doubles), http: CloudHTTP(requestTimeout: .seconds(20))).fetch()
            Issue.record("a missing key must fail the fetch")
        } catch {
            #expect(error.message.contains("failed to get key objectName:nope") && error.message.contains("KeyNotFound"))
        }
    }
}
}
