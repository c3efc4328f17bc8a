import Core
import Crypto
import Foundation
import JSON
import Registry

/// An Alibaba Cloud Container Registry host, as Ratify reads it:
/// `[<instance>-]registry[-intl][-vpc][-internal][.distributed].<region>.[cr.]aliyuncs.com`.
public struct AlibabaRegistry: Sendable, Equatable {
    public let instanceName: String
    public let region: String

    public static func parse(_ host: String) throws(RegistryError) -> AlibabaRegistry {
        let name = (host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "").lowercased()
        guard name.hasSuffix(".aliyuncs.com") else {
            throw RegistryError(.credentialProvider, "alibabacloudAcrBasic: Invalid Alibaba Cloud Registry image \(host) which does not end with `aliyuncs.com`")
        }
        var labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        labels.removeLast(2)  // aliyuncs.com
        if labels.last == "cr" { labels.removeLast() }
        guard labels.count >= 2, let region = labels.last, region.contains("-") else {
            throw RegistryError(.credentialProvider, "alibabacloudAcrBasic: Invalid Alibaba Cloud Registry image format")
        }
        var first = labels[0]
        if labels.count == 3, labels[1] == "distributed" { } else if labels.count != 2 {
            throw RegistryError(.credentialProvider, "alibabacloudAcrBasic: Invalid Alibaba Cloud Registry image format")
        }
        for suffix in ["-internal", "-vpc", "-intl"] where first.hasSuffix(suffix) { first.removeLast(suffix.count) }
        guard first == "registry" || first.hasSuffix("-registry") else {
            throw RegistryError(.credentialProvider, "alibabacloudAcrBasic: Invalid Alibaba Cloud Registry image format")
        }
        return AlibabaRegistry(instanceName: first == "registry" ? "" : String(first.dropLast("-registry".count)), region: region)
    }
}

/// `alibabacloudAcrBasic`: RRSA (the projected OIDC token, `ALIBABA_CLOUD_ROLE_ARN`,
/// `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`) → STS
/// `AssumeRoleWithOIDC` (anonymous) → ACR Enterprise `GetAuthorizationToken` for the registry's
/// instance, signed ACS3-HMAC-SHA256 with the role's STS credentials → `TempUsername` /
/// `AuthorizationToken` until `ExpireTime`. Instance ids: `acrInstancesConfig` by instance name,
/// else `defaultInstanceId` (or `ALIBABA_CLOUD_ACR_INSTANCE_ID`).
public final class AlibabaACRCredentials: CredentialProvider {
    public static let name = "alibabacloudAcrBasic"
    struct STSCredentials: Sendable, CustomStringConvertible {
        let accessKeyID: String, secret: String, token: String
        var description: String { "sts-credentials(\(accessKeyID), secret: <redacted>)" }
    }

    let roleARN: String, oidcProviderARN: String, tokenFile: String
    let stsEndpoint: String
    /// `cr.<region>.aliyuncs.com` unless `ALIBABA_CLOUD_CR_ENDPOINT` names another (tests).
    let crEndpoint: String?
    let defaultInstance: String
    let instances: [String: String]
    let http: CloudHTTP
    let sessions: RefreshingCache<String, STSCredentials>
    public let tokens: RefreshingCache<String, RegistryCredential>

    public init(parameters: JSONValue, environment: [String: String], http: CloudHTTP = CloudHTTP()) throws(RegistryError) {
        var instances: [String: String] = [:]
        if let list = parameters["acrInstancesConfig"], !list.isNull {
            guard let items = list.arrayValue else { throw RegistryError(.invalidConfiguration, "\(Self.name): acrInstancesConfig must be a list of {instanceName, instanceId}") }
            for item in items {
                guard let name = item["instanceName"]?.stringValue, let id = item["instanceId"]?.stringValue else {
                    throw RegistryError(.invalidConfiguration, "\(Self.name): each acrInstancesConfig entry needs instanceName and instanceId strings")
                }
                instances[name] = id
            }
        }
        let defaultInstance = parameters["defaultInstanceId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["ALIBABA_CLOUD_ACR_INSTANCE_ID"] ?? ""
        if defaultInstance.isEmpty && instances.isEmpty {
            throw RegistryError(.invalidConfiguration, "\(Self.name): no instance ID provided and ALIBABA_CLOUD_ACR_INSTANCE_ID environment variable is empty")
        }
        let role = environment["ALIBABA_CLOUD_ROLE_ARN"] ?? "", oidc = environment["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] ?? "",
            file = environment["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] ?? ""
        guard !role.isEmpty, !oidc.isEmpty, !file.isEmpty else {
            throw RegistryError(.invalidConfiguration, "\(Self.name): required environment variables not set, ALIBABA_CLOUD_ROLE_ARN: \(role), ALIBABA_CLOUD_OIDC_PROVIDER_ARN: \(oidc), ALIBABA_CLOUD_OIDC_TOKEN_FILE: \(file)")
        }
        roleARN = role
        oidcProviderARN = oidc
        tokenFile = file
        stsEndpoint = environment["ALIBABA_CLOUD_STS_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["ALIBABA_CLOUD_STS_REGION"].flatMap { $0.isEmpty ? nil : "https://sts.\($0).aliyuncs.com" } ?? "https://sts.aliyuncs.com"
        crEndpoint = environment["ALIBABA_CLOUD_CR_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
        self.defaultInstance = defaultInstance
        self.instances = instances
        self.http = http
        let (roleARN, oidcARN, tokenFile, sts) = (role, oidc, file, stsEndpoint)
        let sessions = RefreshingCache<String, STSCredentials> { _ throws(RegistryError) in
            try await Self.assumeRole(roleARN: roleARN, oidcProviderARN: oidcARN, tokenFile: tokenFile, endpoint: sts, http: http)
        }
        self.sessions = sessions
        let crEndpoint = self.crEndpoint
        tokens = RefreshingCache<String, RegistryCredential> { key throws(RegistryError) in
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            let session = try await sessions.value(for: "sts", deadline: .now + http.requestTimeout)
            return try await Self.authorizationToken(instance: parts[1], region: parts[0], endpoint: crEndpoint, session: session, http: http)
        }
    }

    public func rejected(registry: String) async {
        guard let parsed = try? AlibabaRegistry.parse(registry) else { return }
        await tokens.invalidate("\(parsed.region)|\(instances[parsed.instanceName] ?? defaultInstance)")
    }

    public func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential? {
        guard registry.lowercased().split(separator: ":").first?.hasSuffix(".aliyuncs.com") == true else { return nil }
        let parsed = try AlibabaRegistry.parse(registry)
        let instance = instances[parsed.instanceName] ?? defaultInstance
        guard !instance.isEmpty else { throw RegistryError(.credentialProvider, "\(Self.name): no instance id found for the given artifact (\(registry))") }
        return try await tokens.value(for: "\(parsed.region)|\(instance)", deadline: deadline)
    }

    static func assumeRole(roleARN: String, oidcProviderARN: String, tokenFile: String, endpoint: String,
                           http: CloudHTTP) async throws(RegistryError) -> Expiring<STSCredentials> {
        let token = try TokenFile.read(tokenFile, provider: name, variable: "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
        let query = CloudHTTP.form([("Version", "2015-04-01"), ("Action", "AssumeRoleWithOIDC"), ("Format", "JSON"),
                                    ("Timestamp", iso8601(Date()))])
        let response = try await http.postForm("\(endpoint)/?\(query)", [
            ("RoleArn", roleARN), ("OIDCProviderArn", oidcProviderARN), ("OIDCToken", token),
            ("RoleSessionName", "ratify-\(Int(Date().timeIntervalSince1970))"), ("DurationSeconds", "3600"),
        ], provider: name)
        let document = try? JSONParser.parse(response.body)
        guard response.status == 200 else {
            throw RegistryError(.credentialProvider, "\(name): get session token failed: HTTP \(response.status) "
                                + "\(document?["Code"]?.stringValue ?? "")\(document?["Message"]?.stringValue.map { ": " + $0 } ?? "")")
        }
        guard let credentials = document?["Credentials"], let key = credentials["AccessKeyId"]?.stringValue,
              let secret = credentials["AccessKeySecret"]?.stringValue, let session = credentials["SecurityToken"]?.stringValue,
              let expiration = credentials["Expiration"]?.stringValue.flatMap(RFC3339.parse) else {
            throw RegistryError(.credentialProvider, "\(name): STS answered AssumeRoleWithOIDC without Credentials (AccessKeyId, AccessKeySecret, SecurityToken, Expiration)")
        }
        return Expiring(STSCredentials(accessKeyID: key, secret: secret, token: session),
                        lifetime: TokenLifetime.absolute(expiresAt: expiration, serverDate: response.header("Date")))
    }

    static func authorizationToken(instance: String, region: String, endpoint: String?, session: STSCredentials,
                                   http: CloudHTTP) async throws(RegistryError) -> Expiring<RegistryCredential> {
        let base = endpoint ?? "https://cr.\(region).aliyuncs.com"
        guard let hostHeader = URLComponents(string: base)?.hostHeader else {
            throw RegistryError(.invalidConfiguration, "\(name): the ACR endpoint \(base) is not a URL")
        }
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let signed = ACS3.sign(method: "POST", query: [("InstanceId", instance)], headers: [
            ("host", hostHeader), ("x-acs-version", "2018-12-01"), ("x-acs-action", "GetAuthorizationToken"),
            ("x-acs-date", iso8601(Date())), ("x-acs-signature-nonce", Hash.hexString(nonce)),
            ("x-acs-accesskey-id", session.accessKeyID), ("x-acs-security-token", session.token), ("accept", "application/json"),
        ], body: [], accessKeyID: session.accessKeyID, secret: session.secret)
        let response = try await http.send("POST", "\(base)/?InstanceId=\(ACS3.encode(instance))",
                                           headers: signed.filter { $0.name != "host" }, body: [], provider: name)
        let document = try? JSONParser.parse(response.body)
        guard response.status == 200, let token = document?["AuthorizationToken"]?.stringValue, let user = document?["TempUsername"]?.stringValue else {
            throw RegistryError(.credentialProvider, "\(name): failed to get acr authorization token for instance \(instance) in \(region): HTTP \(response.status) "
                                + "\(document?["Code"]?.stringValue ?? "")\(document?["Message"]?.stringValue.map { ": " + $0 } ?? "")")
        }
        let expires = document?["ExpireTime"]?.doubleValue.map { Date(timeIntervalSince1970: $0 / 1000) } ?? Date().addingTimeInterval(3600)
        return Expiring(RegistryCredential(username: user, password: token),
                        lifetime: TokenLifetime.absolute(expiresAt: expires, serverDate: response.header("Date")))
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Alibaba Cloud's V3 request signature, ACS3-HMAC-SHA256 (help.aliyun.com "Request syntax and
/// signature method V3"): canonical request `METHOD\n/\nquery\nheaders\nsigned\nsha256(body)`,
/// string to sign `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)), signature
/// hex(HMAC-SHA256(secret, string to sign)). Signed headers: `host`, `content-type` and every `x-acs-*`.
public enum ACS3 {
    public static func sign(method: String, query: [(String, String)], headers: [(String, String)], body: [UInt8],
                            accessKeyID: String, secret: String) -> [(name: String, value: String)] {
        let payloadHash = Hash.hex(.sha256, body)
        var all = headers.map { (name: $0.0.lowercased(), value: $0.1) }
        all.append((name: "x-acs-content-sha256", value: payloadHash))
        let signed = all.filter { $0.name == "host" || $0.name == "content-type" || $0.name.hasPrefix("x-acs-") }
            .sorted { $0.name < $1.name }
        let canonicalQuery = query.map { (encode($0.0), encode($0.1)) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalHeaders = signed.map { "\($0.name):\($0.value.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedNames = signed.map(\.name).joined(separator: ";")
        let canonical = [method, "/", canonicalQuery, canonicalHeaders, signedNames, payloadHash].joined(separator: "\n")
        let stringToSign = "ACS3-HMAC-SHA256\n" + Hash.hex(.sha256, Array(canonical.utf8))
        let signature = Hash.hexString(Hash.hmac(.sha256, key: Array(secret.utf8), Array(stringToSign.utf8)))
        return all + [(name: "Authorization", value: "ACS3-HMAC-SHA256 Credential=\(accessKeyID),SignedHeaders=\(signedNames),Signature=\(signature)")]
    }

    /// RFC 3986 encoding (Go's url.QueryEscape with `+`→%20, `*`→%2A, %7E→~ is exactly this).
    public static func encode(_ text: String) -> String { SigV4.percentEncode(text, keepSlash: false) }
}
