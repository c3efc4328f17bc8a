import Core
import Crypto
import Foundation
import HTTPClient
import JSON
import Registry
import Synchronization

/// A failure of the Azure Key Vault key management provider, with Ratify's code
/// (`CONFIG_INVALID`, `CERT_INVALID`, `KEY_INVALID`, `KEY_MANAGEMENT_PROVIDER_FAILURE`) and text.
public struct KeyVaultError: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}

/// `KeyManagementProvider` `type: azurekeyvault`, Ratify 1.4's parameters (names matched
/// case-insensitively, as Go's JSON decoding does): `vaultURI`, `tenantID`, `clientID`,
/// `certificates` / `keys` as `[{name, version}]` (no version: the latest, re-resolved on every
/// refresh), and the resource's `refreshInterval` (Go duration; empty: fetched once).
public struct KeyVaultSpec: Sendable, Equatable {
    public struct Object: Sendable, Equatable {
        public let name: String
        public let version: String
    }

    public var vaultURI: String
    public var tenantID: String
    public var clientID: String
    public var certificates: [Object]
    public var keys: [Object]
    public var refreshInterval: Duration?
    public static let minimumRefreshInterval: Duration = .seconds(1)

    /// Ratify's validation order and messages.
    public static func parse(_ parameters: JSONValue?, refreshInterval: String?) throws(KeyVaultError) -> KeyVaultSpec {
        guard let parameters, let object = parameters.objectValue else {
            throw KeyVaultError("KEY_MANAGEMENT_PROVIDER_FAILURE", "no key management provider parameters provided")
        }
        func field(_ name: String) -> JSONValue? {
            object.members.first(where: { $0.key == name })?.value ?? object.members.first(where: { $0.key.lowercased() == name.lowercased() })?.value
        }
        func objects(_ name: String) throws(KeyVaultError) -> [Object] {
            guard let value = field(name), !value.isNull else { return [] }
            guard let items = value.arrayValue else {
                throw KeyVaultError("CONFIG_INVALID", "failed to parse AKV key management provider configuration: \(name) must be a list of {name, version}")
            }
            var result: [Object] = []
            for item in items {
                guard item.objectValue != nil else {
                    throw KeyVaultError("CONFIG_INVALID", "failed to parse AKV key management provider configuration: \(name) must be a list of {name, version}")
                }
                let entry = item.objectValue!
                func text(_ key: String) throws(KeyVaultError) -> String {
                    guard let value = entry.members.first(where: { $0.key.lowercased() == key })?.value, !value.isNull else { return "" }
                    guard let string = value.stringValue else {
                        throw KeyVaultError("CONFIG_INVALID", "failed to parse AKV key management provider configuration: \(name)[].\(key) must be a string")
                    }
                    return string
                }
                result.append(Object(name: try text("name"), version: try text("version")))
            }
            return result
        }
        func string(_ name: String) throws(KeyVaultError) -> String {
            guard let value = field(name), !value.isNull else { return "" }
            guard let text = value.stringValue else {
                throw KeyVaultError("CONFIG_INVALID", "failed to parse AKV key management provider configuration: \(name) must be a string")
            }
            return text.trimmingCharacters(in: .whitespaces)
        }
        let certificates = try objects("certificates"), keys = try objects("keys")
        guard !certificates.isEmpty || !keys.isEmpty else { throw KeyVaultError("CONFIG_INVALID", "no keyvault certificates or keys configured") }
        let vault = try string("vaultURI"), tenant = try string("tenantID"), client = try string("clientID")
        guard !vault.isEmpty else { throw KeyVaultError("CONFIG_INVALID", "vaultURI is not set") }
        guard !tenant.isEmpty else { throw KeyVaultError("CONFIG_INVALID", "tenantID is not set") }
        guard !client.isEmpty else { throw KeyVaultError("CONFIG_INVALID", "clientID is not set") }
        for (index, certificate) in certificates.enumerated() where certificate.name.isEmpty {
            throw KeyVaultError("CONFIG_INVALID", "name is not set for the \(index + 1) th certificate")
        }
        for (index, key) in keys.enumerated() where key.name.isEmpty {
            throw KeyVaultError("CONFIG_INVALID", "name is not set for the \(index + 1) th key")
        }
        guard let url = URLComponents(string: vault), url.scheme == "https" || url.scheme == "http", url.host?.isEmpty == false else {
            throw KeyVaultError("CONFIG_INVALID", "vaultURI \(vault) is not a URL (https://<vault>.vault.azure.net/)")
        }
        var interval: Duration?
        if let refreshInterval, !refreshInterval.isEmpty {
            guard let parsed = GoDuration.parse(refreshInterval) else {
                throw KeyVaultError("KEY_MANAGEMENT_PROVIDER_FAILURE", "Unable to parse interval duration \"\(refreshInterval)\" (a Go duration such as 1m or 1h30m)")
            }
            // Zero or negative: fetched once, as Ratify (no requeue). At least a second between
            // fetches: `1ns` must not turn ratify's identity into a flood on the vault.
            interval = parsed > .zero ? max(parsed, Self.minimumRefreshInterval) : nil
        }
        var trimmed = vault
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return KeyVaultSpec(vaultURI: trimmed, tenantID: tenant, clientID: client, certificates: certificates, keys: keys, refreshInterval: interval)
    }
}

/// What one fetch produced: the certificates (every one of each chain, in order), the public
/// keys, and the status `properties` Ratify writes (`{"Certificates": [...], "Keys": [...]}`,
/// entries `Name`, `Version`, `Enabled` ("true"/"false"), `LastRefreshed`).
public struct KeyVaultMaterial: Sendable {
    public let certificates: [Certificate]
    public let keys: [ManagedKey]
    public let properties: JSONValue
}

/// Reads a vault's certificates (through their backing secrets: the whole chain, PEM or
/// PKCS #12) and keys (JWK → public key) with a workload identity token obtained through Key
/// Vault's challenge (api-version 7.4). Disabled certificates and keys are left out and listed
/// as `Enabled: "false"`, as Ratify 1.4 does; any other failure fails the whole fetch.
public final class KeyVaultClient: Sendable {
    public static let apiVersion = "7.4"
    public let spec: KeyVaultSpec
    let identity: AzureIdentity
    let http: CloudHTTP
    let tokens: RefreshingCache<String, String>
    let provider: String
    /// The token scope the vault's challenge named (asked once; later requests carry a token).
    let learnedScope = Mutex<String?>(nil)

    public init(spec: KeyVaultSpec, environment: [String: String], http: CloudHTTP = CloudHTTP(), name: String = "azurekeyvault") throws(KeyVaultError) {
        self.spec = spec
        self.http = http
        provider = name
        guard let file = environment["AZURE_FEDERATED_TOKEN_FILE"], !file.isEmpty else {
            throw KeyVaultError("AUTH_DENIED", "failed to create workload identity credential: AZURE_FEDERATED_TOKEN_FILE is not set (label the pod azure.workload.identity/use: \"true\")")
        }
        var authority = environment["AZURE_AUTHORITY_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? AzureIdentity.defaultAuthorityHost
        if !authority.hasSuffix("/") { authority += "/" }
        let identity = AzureIdentity.workload(tenantID: spec.tenantID, clientID: spec.clientID, tokenFile: file, authorityHost: authority)
        self.identity = identity
        tokens = RefreshingCache<String, String> { scope throws(RegistryError) in
            try await identity.token(scope: scope, http: http, provider: name)
        }
    }

    public func fetch(now: Date = Date()) async throws(KeyVaultError) -> KeyVaultMaterial {
        let stamp = ISO8601DateFormatter().string(from: now)
        var certificates: [Certificate] = [], keys: [ManagedKey] = []
        var certificateRows: [JSONValue] = [], keyRows: [JSONValue] = []
        func row(_ name: String, _ version: String, _ enabled: Bool) -> JSONValue {
            ["Enabled": .string(enabled ? "true" : "false"), "LastRefreshed": .string(stamp), "Name": .string(name), "Version": .string(version)]
        }
        for object in spec.certificates {
            let secret = try await get("secrets", object)
            if secret.status == 403, secret.document?["error"]?["innererror"]?["code"]?.stringValue == "SecretDisabled" {
                // Disabled: skipped, its version read from the certificate (for the status).
                let certificate = try await get("certificates", object)
                guard certificate.status == 200, let kid = certificate.document?["kid"]?.stringValue else {
                    throw failure("failed to get certificate objectName:\(object.name), objectVersion:\(object.version)", certificate)
                }
                certificateRows.append(row(object.name, Self.version(kid), false))
                continue
            }
            guard secret.status == 200, let document = secret.document else {
                throw failure("failed to get secret objectName:\(object.name), objectVersion:\(object.version)", secret)
            }
            guard let contentType = document["contentType"]?.stringValue, let value = document["value"]?.stringValue,
                  let id = document["id"]?.stringValue else {
                throw KeyVaultError("CERT_INVALID", "found invalid secret bundle for certificate \(object.name), contentType, value, and id must not be nil")
            }
            let version = Self.version(id)
            guard document["attributes"]?["enabled"]?.boolValue != false else {
                certificateRows.append(row(object.name, version, false))
                continue
            }
            let chain = try Self.certificates(contentType: contentType, value: value, name: object.name, version: version)
            certificates += chain
            certificateRows += chain.map { _ in row(object.name, version, true) }
        }
        for object in spec.keys {
            let response = try await get("keys", object)
            guard response.status == 200, let document = response.document else {
                throw failure("failed to get key objectName:\(object.name), objectVersion:\(object.version)", response)
            }
            guard let jwk = document["key"], jwk.objectValue != nil else { throw KeyVaultError("KEY_INVALID", "found invalid key bundle, key must not be nil") }
            let version = Self.version(jwk["kid"]?.stringValue ?? "")
            guard document["attributes"]?["enabled"]?.boolValue != false else {
                keyRows.append(row(object.name, version, false))
                continue
            }
            keys.append(ManagedKey(name: object.name, version: version, key: try Self.publicKey(jwk, name: object.name, version: version)))
            keyRows.append(row(object.name, version, true))
        }
        return KeyVaultMaterial(certificates: certificates, keys: keys,
                                properties: ["Certificates": .array(certificateRows), "Keys": .array(keyRows)])
    }

    // MARK: the REST calls

    struct Answer {
        let status: Int
        let document: JSONValue?
    }

    /// `GET {vault}/{kind}/{name}/{version}?api-version=7.4` with a bearer token; a 401 carries
    /// Key Vault's challenge (`Bearer authorization="…", resource="https://vault.azure.net"`),
    /// whose resource must be the vault's own domain before a token for it is requested.
    func get(_ kind: String, _ object: KeyVaultSpec.Object) async throws(KeyVaultError) -> Answer {
        let url = "\(spec.vaultURI)/\(kind)/\(SigV4.percentEncode(object.name, keepSlash: false))/\(SigV4.percentEncode(object.version, keepSlash: false))?api-version=\(Self.apiVersion)"
        var scope = learnedScope.withLock { $0 }
        for attempt in 0..<2 {
            var headers: [(name: String, value: String)] = [(name: "Accept", value: "application/json")]
            if let scope {
                do throws(RegistryError) {
                    headers.append((name: "Authorization", value: "Bearer " + (try await tokens.value(for: scope, deadline: .now + http.requestTimeout))))
                } catch {
                    throw KeyVaultError("AUTH_DENIED", error.message)
                }
            }
            let response: TransportResponse
            do throws(RegistryError) { response = try await http.send("GET", url, headers: headers, provider: provider) } catch {
                throw KeyVaultError("KEY_MANAGEMENT_PROVIDER_FAILURE", error.message)
            }
            if response.status == 401, attempt == 0 {
                guard let challenge = response.header("WWW-Authenticate").flatMap(AuthChallenge.parse), challenge.scheme == "bearer",
                      let resource = challenge.parameters["scope"] ?? challenge.parameters["resource"] else {
                    throw KeyVaultError("AUTH_DENIED", "\(spec.vaultURI) answered 401 without a Key Vault bearer challenge")
                }
                try checkChallenge(resource)
                if let scope { await tokens.invalidate(scope) }
                scope = resource.hasSuffix("/.default") ? resource : resource + "/.default"
                learnedScope.withLock { [scope] in $0 = scope }
                continue
            }
            return Answer(status: response.status, document: try? JSONParser.parse(response.body))
        }
        throw KeyVaultError("AUTH_DENIED", "\(spec.vaultURI) refused the token issued for it")
    }

    /// azure-sdk's rule: the vault host must end with "." + the challenge resource's host, so a
    /// look-alike vault cannot make us fetch (and send) a token for another service.
    func checkChallenge(_ resource: String) throws(KeyVaultError) {
        let vaultHost = URLComponents(string: spec.vaultURI)?.host?.lowercased() ?? ""
        let resourceHost = URLComponents(string: resource)?.host?.lowercased() ?? ""
        guard !resourceHost.isEmpty, vaultHost.hasSuffix("." + resourceHost) else {
            throw KeyVaultError("AUTH_DENIED", "challenge resource \"\(resource)\" doesn't match the requested domain \(vaultHost)")
        }
    }

    func failure(_ what: String, _ answer: Answer) -> KeyVaultError {
        let code = answer.document?["error"]?["code"]?.stringValue ?? "", message = answer.document?["error"]?["message"]?.stringValue ?? ""
        return KeyVaultError("KEY_MANAGEMENT_PROVIDER_FAILURE", "\(what), error: HTTP \(answer.status)\(code.isEmpty ? "" : " " + code)\(message.isEmpty ? "" : ": " + message)")
    }

    // MARK: parsing (pure)

    /// The last segment of a Key Vault object id: its version.
    public static func version(_ id: String) -> String {
        id.split(separator: "/").last.map(String.init) ?? ""
    }

    /// A certificate secret's value: `application/x-pem-file` (every CERTIFICATE block, keys
    /// skipped) or `application/x-pkcs12` (base64 of the PFX, empty password).
    public static func certificates(contentType: String, value: String, name: String, version: String) throws(KeyVaultError) -> [Certificate] {
        switch contentType {
        case "application/x-pem-file":
            guard value.contains("-----BEGIN CERTIFICATE-----") else { return [] }
            do { return try Certificate.pemChain(Array(value.utf8), source: "certificate \(name) version \(version)") } catch {
                throw KeyVaultError("CERT_INVALID", "azure keyvault key management provider: failed to decode Certificate \(name), version \(version)")
            }
        case "application/x-pkcs12":
            guard let der = Base64.decode(value, .standard) else {
                throw KeyVaultError("CERT_INVALID", "azure keyvault key management provider: failed to decode PKCS12 Value. Certificate \(name), version \(version)")
            }
            do { return try Certificate.pkcs12(der, source: "certificate \(name) version \(version)") } catch {
                throw KeyVaultError("CERT_INVALID", "azure keyvault key management provider: failed to convert PKCS12 Value to PEM. Certificate \(name), version \(version)")
            }
        default:
            throw KeyVaultError("CERT_INVALID", "certificate \(name) version \(version), unsupported secret content type \(contentType), supported type are application/x-pkcs12 and application/x-pem-file")
        }
    }

    /// A Key Vault JWK: RSA / RSA-HSM (`n`, `e`), EC / EC-HSM on P-256, P-384, P-521 (`crv`, `x`, `y`).
    public static func publicKey(_ jwk: JSONValue, name: String, version: String) throws(KeyVaultError) -> PublicKey {
        guard let kty = jwk["kty"]?.stringValue else { throw KeyVaultError("KEY_INVALID", "found invalid key bundle, keytype must not be nil") }
        func bytes(_ field: String) throws(KeyVaultError) -> [UInt8] {
            guard let text = jwk[field]?.stringValue, let decoded = Base64.decode(text, .rawURL), !decoded.isEmpty else {
                throw KeyVaultError("KEY_INVALID", "failed to unmarshal key into JSON Web Key: key \(name) version \(version) has no valid \(field)")
            }
            return decoded
        }
        do {
            switch kty {
            case "RSA", "RSA-HSM":
                return try PublicKey.rsa(modulus: try bytes("n"), exponent: try bytes("e"), source: "key \(name) version \(version)")
            case "EC", "EC-HSM":
                return try PublicKey.ec(curve: jwk["crv"]?.stringValue ?? "", x: try bytes("x"), y: try bytes("y"), source: "key \(name) version \(version)")
            default:
                throw KeyVaultError("KEY_INVALID", "failed to unmarshal key into JSON Web Key: unsupported key type \(kty) (RSA, RSA-HSM, EC, EC-HSM)")
            }
        } catch let error as CryptoError {
            throw KeyVaultError("KEY_INVALID", "failed to unmarshal key into JSON Web Key: \(error.message)")
        } catch let error as KeyVaultError {
            throw error
        } catch {
            throw KeyVaultError("KEY_INVALID", "failed to unmarshal key into JSON Web Key: \(error)")
        }
    }
}
