import Core
import Foundation
import HTTPClient
import JSON
import Registry

/// An ECR registry host: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` (and the other
/// partitions' suffixes, as amazon-ecr-credential-helper reads them).
public struct ECRRegistry: Sendable, Equatable {
    public let account: String
    public let region: String
    public let fips: Bool
    /// `amazonaws.com`, `amazonaws.com.cn`, …: the partition's DNS suffix.
    public let suffix: String

    public static func parse(_ host: String) -> ECRRegistry? {
        let name = host.split(separator: ":", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        let labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard labels.count >= 6, labels[0].count == 12, labels[0].allSatisfy(\.isNumber), labels[1] == "dkr",
              labels[2] == "ecr" || labels[2] == "ecr-fips" else { return nil }
        let region = labels[3]
        guard !region.isEmpty, region.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else { return nil }
        let suffix = labels[4...].joined(separator: ".")
        guard ["amazonaws.com", "amazonaws.com.cn", "sc2s.sgov.gov", "c2s.ic.gov", "cloud.adc-e.uk", "csp.hci.ic.gov"].contains(suffix) else { return nil }
        return ECRRegistry(account: labels[0], region: region, fips: labels[2] == "ecr-fips", suffix: suffix)
    }

    /// The ECR API endpoint of the registry's region (FIPS: `ecr-fips.<region>…`).
    public var apiEndpoint: String {
        fips ? "https://ecr-fips.\(region).\(suffix)" : "https://api.ecr.\(region).\(suffix)"
    }
}

/// IRSA (EKS "IAM roles for service accounts") as the AWS SDKs read it from the environment:
/// the projected token in `AWS_WEB_IDENTITY_TOKEN_FILE`, the role in `AWS_ROLE_ARN`, the region
/// in `AWS_REGION` (or `AWS_DEFAULT_REGION`); `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_ECR` /
/// `AWS_ENDPOINT_URL` replace endpoints as in the SDKs; Ratify's `AWS_API_OVERRIDE_ENDPOINT`,
/// `_PARTITION`, `_REGION` (chart `oras.authProviders.awsApiOverride`) replace the ECR endpoint
/// for that region.
public struct AWSWebIdentity: Sendable, Equatable {
    public var tokenFile: String
    public var roleARN: String
    public var region: String
    public var sessionName = "ratifyEcrBasicAuth"
    public var stsEndpoint: String?
    public var ecrEndpoint: String?
    public var apiOverride: (endpoint: String, partition: String, region: String)?

    public static func == (a: AWSWebIdentity, b: AWSWebIdentity) -> Bool {
        (a.tokenFile, a.roleARN, a.region, a.sessionName, a.stsEndpoint, a.ecrEndpoint) == (b.tokenFile, b.roleARN, b.region, b.sessionName, b.stsEndpoint, b.ecrEndpoint)
            && a.apiOverride?.endpoint == b.apiOverride?.endpoint && a.apiOverride?.region == b.apiOverride?.region
    }

    public init(tokenFile: String, roleARN: String, region: String) {
        self.tokenFile = tokenFile
        self.roleARN = roleARN
        self.region = region
    }

    /// Ratify's check, with its message: all three IRSA variables are needed.
    public static func fromEnvironment(_ environment: [String: String]) throws(RegistryError) -> AWSWebIdentity {
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? ""
        let role = environment["AWS_ROLE_ARN"] ?? "", file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"] ?? ""
        guard !region.isEmpty, !role.isEmpty, !file.isEmpty else {
            throw RegistryError(.invalidConfiguration, "awsEcrBasic: required environment variables not set, AWS_REGION: \(region), AWS_ROLE_ARN: \(role), AWS_WEB_IDENTITY_TOKEN_FILE: \(file) (IRSA: annotate the service account with eks.amazonaws.com/role-arn)")
        }
        var identity = AWSWebIdentity(tokenFile: file, roleARN: role, region: region)
        if let name = environment["AWS_ROLE_SESSION_NAME"], !name.isEmpty { identity.sessionName = name }
        identity.stsEndpoint = environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"]
        identity.ecrEndpoint = environment["AWS_ENDPOINT_URL_ECR"] ?? environment["AWS_ENDPOINT_URL"]
        if let endpoint = environment["AWS_API_OVERRIDE_ENDPOINT"], !endpoint.isEmpty,
           let overrideRegion = environment["AWS_API_OVERRIDE_REGION"], !overrideRegion.isEmpty {
            identity.apiOverride = (endpoint, environment["AWS_API_OVERRIDE_PARTITION"] ?? "aws", overrideRegion)
        }
        return identity
    }

    /// STS regional endpoint (the SDKs' default since 2022), China's own suffix.
    var sts: String {
        stsEndpoint ?? (region.hasPrefix("cn-") ? "https://sts.\(region).amazonaws.com.cn" : "https://sts.\(region).amazonaws.com")
    }

    public func ecrAPI(for registry: ECRRegistry) -> String {
        if let apiOverride, apiOverride.region == registry.region { return apiOverride.endpoint }
        return ecrEndpoint ?? registry.apiEndpoint
    }
}

/// `awsEcrBasic`: Basic credentials for ECR registries from the pod's web identity — STS
/// `AssumeRoleWithWebIdentity` (the projected token; unsigned, as the STS API defines it), then
/// ECR `GetAuthorizationToken` signed with SigV4 by the role's session credentials; the token
/// (`AWS:<password>`, 12 h) is cached per registry and refreshed before it lapses. Hosts that are
/// not ECR registries get no credential from here (Ratify fails them; we let them go anonymous
/// or to another provider — docs/compatibility.md).
public final class ECRCredentials: CredentialProvider {
    public static let name = "awsEcrBasic"
    let identity: AWSWebIdentity
    let http: CloudHTTP
    let clock: @Sendable () -> Date
    let sessions: RefreshingCache<String, AWSCredentials>
    public let tokens: RefreshingCache<String, RegistryCredential>

    public init(identity: AWSWebIdentity, http: CloudHTTP = CloudHTTP(), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.identity = identity
        self.http = http
        self.clock = clock
        let sessions = RefreshingCache<String, AWSCredentials> { _ throws(RegistryError) in
            try await Self.assumeRole(identity, http: http)
        }
        self.sessions = sessions
        tokens = RefreshingCache<String, RegistryCredential> { host throws(RegistryError) in
            guard let registry = ECRRegistry.parse(host) else { throw RegistryError(.credentialProvider, "\(Self.name): \(host) is not an ECR registry") }
            let session = try await sessions.value(for: identity.region, deadline: .now + http.requestTimeout)
            do throws(RegistryError) {
                return try await Self.authorizationToken(registry, identity: identity, session: session, http: http, clock: clock)
            } catch {
                // ECR refused the role's session itself (revoked, expired early): the next attempt
                // assumes the role again instead of reusing it until its stated expiry.
                if ["UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException", "HTTP 403"].contains(where: error.message.contains) {
                    await sessions.invalidate(identity.region)
                }
                throw error
            }
        }
    }

    public func rejected(registry: String) async {
        await tokens.invalidate(registry.lowercased())
    }

    public func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential? {
        guard ECRRegistry.parse(registry) != nil else { return nil }
        return try await tokens.value(for: registry.lowercased(), deadline: deadline)
    }

    // MARK: STS

    static func assumeRole(_ identity: AWSWebIdentity, http: CloudHTTP) async throws(RegistryError) -> Expiring<AWSCredentials> {
        let token = try TokenFile.read(identity.tokenFile, provider: name, variable: "AWS_WEB_IDENTITY_TOKEN_FILE")
        let response = try await http.postForm(identity.sts, [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", identity.roleARN),
            ("RoleSessionName", identity.sessionName), ("WebIdentityToken", token),
        ], provider: name)
        let xml = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            throw RegistryError(.credentialProvider, "\(name): STS AssumeRoleWithWebIdentity for \(identity.roleARN) failed: HTTP \(response.status) "
                                + "\(XMLText.first("Code", in: xml) ?? "")\(XMLText.first("Message", in: xml).map { ": " + $0 } ?? "")")
        }
        guard let credentials = XMLText.first("Credentials", in: xml),
              let key = XMLText.first("AccessKeyId", in: credentials), let secret = XMLText.first("SecretAccessKey", in: credentials),
              let session = XMLText.first("SessionToken", in: credentials), let expiration = XMLText.first("Expiration", in: credentials),
              let expires = RFC3339.parse(expiration) else {
            throw RegistryError(.credentialProvider, "\(name): STS answered AssumeRoleWithWebIdentity without Credentials (AccessKeyId, SecretAccessKey, SessionToken, Expiration)")
        }
        return Expiring(AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: session),
                        lifetime: TokenLifetime.absolute(expiresAt: expires, serverDate: response.header("Date")))
    }

    // MARK: ECR

    static func authorizationToken(_ registry: ECRRegistry, identity: AWSWebIdentity, session: AWSCredentials, http: CloudHTTP,
                                   clock: @Sendable () -> Date) async throws(RegistryError) -> Expiring<RegistryCredential> {
        let endpoint = identity.ecrAPI(for: registry)
        guard let url = URLComponents(string: endpoint), let hostHeader = url.hostHeader else {
            throw RegistryError(.invalidConfiguration, "\(name): the ECR endpoint \(endpoint) is not a URL")
        }
        let body = Array(#"{"registryIds":["\#(registry.account)"]}"#.utf8)
        var skew: TimeInterval = 0
        // SigV4 signatures are refused more than 15 minutes off the server's clock: once, the
        // request is signed again with the clock the refusal's Date header shows (as the SDKs do).
        for attempt in 0..<2 {
            let request = SigV4.Request(method: "POST", path: url.path.isEmpty ? "/" : url.path, headers: [
                (name: "Host", value: hostHeader),
                (name: "Content-Type", value: "application/x-amz-json-1.1"),
                (name: "X-Amz-Target", value: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
            ], body: body)
            let signed = SigV4.sign(request, credentials: session, region: registry.region, service: "ecr", date: clock().addingTimeInterval(skew))
            let response = try await http.send("POST", endpoint, headers: signed.headers.filter { $0.name != "Host" }, body: body, provider: name)
            let document = try? JSONParser.parse(response.body)
            if response.status != 200 {
                let type = (document?["__type"]?.stringValue).map { $0.split(separator: "#").last.map(String.init) ?? $0 } ?? ""
                let message = document?["message"]?.stringValue ?? document?["Message"]?.stringValue ?? ""
                if attempt == 0, ["InvalidSignatureException", "SignatureDoesNotMatch", "RequestTimeTooSkewed", "RequestExpired"].contains(type),
                   message.lowercased().contains("expired") || message.lowercased().contains("skew") || type == "RequestTimeTooSkewed",
                   let serverDate = response.header("Date").flatMap(HTTPDate.parse) {
                    skew = serverDate.timeIntervalSince(clock())
                    continue
                }
                throw RegistryError(.credentialProvider, "\(name): ECR GetAuthorizationToken for \(registry.account) in \(registry.region) failed: HTTP \(response.status) \(type)\(message.isEmpty ? "" : ": " + message)")
            }
            guard let data = document?["authorizationData"]?.arrayValue?.first, let token = data["authorizationToken"]?.stringValue,
                  let decoded = Base64.decode(token, .standard).map({ String(decoding: $0, as: UTF8.self) }),
                  let colon = decoded.firstIndex(of: ":") else {
                throw RegistryError(.credentialProvider, "\(name): ECR answered GetAuthorizationToken without authorizationData[0].authorizationToken (base64 of user:password)")
            }
            let expiresAt = data["expiresAt"]?.doubleValue.map { Date(timeIntervalSince1970: $0) } ?? clock().addingTimeInterval(12 * 3600)
            return Expiring(RegistryCredential(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...])),
                            lifetime: TokenLifetime.absolute(expiresAt: expiresAt, serverDate: response.header("Date")))
        }
        throw RegistryError(.credentialProvider, "\(name): ECR refused the request signed with the corrected clock")
    }
}

/// The few values read out of STS's XML answers: the text of the first `<name>` element,
/// entities decoded. (STS documents are flat and small; no general XML parser needed.)
enum XMLText {
    static func first(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
