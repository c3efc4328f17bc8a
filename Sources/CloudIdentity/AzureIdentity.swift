import Foundation
import HTTPClient
import JSON
import Registry

/// Where an Entra ID (Azure AD) access token comes from.
public enum AzureIdentity: Sendable, Equatable {
    /// Workload identity (AKS): the projected service-account token in `tokenFile` is the client
    /// assertion of a client-credentials grant at `{authorityHost}{tenant}/oauth2/v2.0/token`.
    case workload(tenantID: String, clientID: String, tokenFile: String, authorityHost: String)
    /// Managed identity through the instance metadata service (IMDS), the user-assigned identity
    /// `clientID` (nil: the system-assigned one).
    case managed(clientID: String?, endpoint: String)

    public static let defaultAuthorityHost = "https://login.microsoftonline.com/"
    public static let defaultIMDS = "http://169.254.169.254"

    /// The workload identity webhook's variables (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST`); `clientID` from the configuration
    /// wins over the variable, as in Ratify. Errors name what is missing, with Ratify's words.
    public static func workload(environment: [String: String], clientID configured: String?, tenantID configuredTenant: String? = nil,
                                provider: String) throws(RegistryError) -> AzureIdentity {
        guard let tenant = nonEmpty(configuredTenant) ?? nonEmpty(environment["AZURE_TENANT_ID"]) else {
            throw RegistryError(.invalidConfiguration, "\(provider): azure tenant id environment variable is empty (AZURE_TENANT_ID; the workload identity webhook sets it for pods labelled azure.workload.identity/use: \"true\")")
        }
        guard let client = nonEmpty(configured) ?? nonEmpty(environment["AZURE_CLIENT_ID"]) else {
            throw RegistryError(.invalidConfiguration, "\(provider): no client ID provided and AZURE_CLIENT_ID environment variable is empty")
        }
        guard let file = nonEmpty(environment["AZURE_FEDERATED_TOKEN_FILE"]) else {
            throw RegistryError(.invalidConfiguration, "\(provider): AZURE_FEDERATED_TOKEN_FILE environment variable is empty (is the pod labelled azure.workload.identity/use: \"true\"?)")
        }
        var authority = nonEmpty(environment["AZURE_AUTHORITY_HOST"]) ?? defaultAuthorityHost
        if !authority.hasSuffix("/") { authority += "/" }
        return .workload(tenantID: tenant, clientID: client, tokenFile: file, authorityHost: authority)
    }

    /// IMDS, as azidentity reaches it (`AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces the address).
    /// The client id: `AZURE_CLIENT_ID` first, then the configured one (Ratify's order for this
    /// provider — the reverse of workload identity's).
    public static func managed(environment: [String: String], clientID: String?) -> AzureIdentity {
        var endpoint = nonEmpty(environment["AZURE_POD_IDENTITY_AUTHORITY_HOST"]) ?? defaultIMDS
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        return .managed(clientID: nonEmpty(environment["AZURE_CLIENT_ID"]) ?? nonEmpty(clientID), endpoint: endpoint)
    }

    static func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

    var tenantID: String? {
        if case .workload(let tenant, _, _, _) = self { return tenant }
        return nil
    }

    /// An access token for `scope` (`https://containerregistry.azure.net/.default`,
    /// `https://vault.azure.net/.default`).
    public func token(scope: String, http: CloudHTTP, provider: String) async throws(RegistryError) -> Expiring<String> {
        switch self {
        case .workload(let tenant, let client, let file, let authority):
            let assertion = try TokenFile.read(file, provider: provider, variable: "AZURE_FEDERATED_TOKEN_FILE")
            let url = "\(authority)\(tenant)/oauth2/v2.0/token"
            let response = try await http.postForm(url, [
                ("client_id", client), ("scope", scope), ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", assertion),
            ], provider: provider)
            return try Self.readToken(response, provider: provider, what: "Entra ID (\(url))")
        case .managed(let client, let endpoint):
            let resource = scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) : scope
            var query = [("api-version", "2018-02-01"), ("resource", resource)]
            if let client { query.append(("client_id", client)) }
            let url = "\(endpoint)/metadata/identity/oauth2/token?" + CloudHTTP.form(query)
            let response = try await http.send("GET", url, headers: [(name: "Metadata", value: "true")], provider: provider)
            return try Self.readToken(response, provider: provider, what: "the instance metadata service (\(endpoint))")
        }
    }

    /// `{"access_token", "expires_in"}` (Entra ID: a number; IMDS: a string, with `expires_on`),
    /// or the OAuth error's `error` and `error_description` (AADSTS… codes) as the reason.
    static func readToken(_ response: TransportResponse, provider: String, what: String) throws(RegistryError) -> Expiring<String> {
        let document = try? JSONParser.parse(response.body)
        guard response.status == 200 else {
            let code = document?["error"]?.stringValue ?? "", description = document?["error_description"]?.stringValue ?? ""
            throw RegistryError(.credentialProvider, "\(provider): \(what) refused the token request: HTTP \(response.status)"
                                + (code.isEmpty ? "" : " \(code)") + (description.isEmpty ? "" : ": \(description)"))
        }
        guard let token = document?["access_token"]?.stringValue, !token.isEmpty else {
            throw RegistryError(.credentialProvider, "\(provider): \(what) answered without an access_token")
        }
        let expiresIn = document?["expires_in"].flatMap { $0.doubleValue ?? $0.stringValue.flatMap(Double.init) }
        if let expiresIn { return Expiring(token, lifetime: TokenLifetime.relative(seconds: expiresIn)) }
        if let on = document?["expires_on"].flatMap({ $0.doubleValue ?? $0.stringValue.flatMap(Double.init) }) {
            return Expiring(token, lifetime: TokenLifetime.absolute(expiresAt: Date(timeIntervalSince1970: on), serverDate: response.header("Date")))
        }
        return Expiring(token, lifetime: .seconds(300))
    }
}

/// Ratify's `endpoints` / chart `azureContainerRegistryEndpoints`: exact hosts, or `*.zone`
/// (one label in front of the zone); default `*.azurecr.io`, `*.azurecr.us`, `*.azurecr.cn`.
public struct RegistryHostPatterns: Sendable, Equatable {
    public static let defaultACR = ["*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"]
    public let patterns: [String]

    public init(_ patterns: [String], provider: String) throws(RegistryError) {
        for pattern in patterns {
            switch pattern.filter({ $0 == "*" }).count {
            case 0: continue
            case 1:
                guard pattern.hasPrefix("*.") else {
                    throw RegistryError(.invalidConfiguration, "\(provider): invalid wildcard domain name: \(pattern), it must start with '*.'")
                }
                guard pattern.count >= 3 else {
                    throw RegistryError(.invalidConfiguration, "\(provider): invalid wildcard domain name: \(pattern), it must have at least one character after '*.'")
                }
            default:
                throw RegistryError(.invalidConfiguration, "\(provider): invalid wildcard domain name: \(pattern), it must have at most one wildcard character")
            }
        }
        self.patterns = patterns.isEmpty ? Self.defaultACR : patterns
    }

    public func matches(_ host: String) -> Bool {
        let host = host.lowercased()
        for pattern in patterns.map({ $0.lowercased() }) {
            if pattern.hasPrefix("*."), let dot = host.firstIndex(of: "."), host[host.index(after: dot)...] == pattern.dropFirst(2) { return true }
            if host == pattern { return true }
        }
        return false
    }
}

/// `azureWorkloadIdentity` / `azureManagedIdentity`: an Entra ID token for ACR
/// (`https://containerregistry.azure.net/.default`) exchanged at the registry's
/// `/oauth2/exchange` for an ACR refresh token, which is the password of the zero-GUID user and
/// the refresh token of docker's token flow. Valid 3 hours (minus 5 minutes) or while the Entra ID
/// token is, whichever ends first — as Ratify computes it; refreshed before then.
public final class ACRCredentials: CredentialProvider {
    public static let zeroGUID = "00000000-0000-0000-0000-000000000000"
    public static let scope = "https://containerregistry.azure.net/.default"
    public let provider: String
    let identity: AzureIdentity
    let hosts: RegistryHostPatterns
    let http: CloudHTTP
    /// The exchange's scheme: `http` only for a registry the store reaches over plain HTTP.
    let scheme: String
    public let aadTokens: RefreshingCache<String, String>
    public let refreshTokens: RefreshingCache<String, RegistryCredential>

    public init(provider: String, identity: AzureIdentity, hosts: RegistryHostPatterns, http: CloudHTTP = CloudHTTP(), plainHTTP: Bool = false) {
        self.provider = provider
        self.identity = identity
        self.hosts = hosts
        self.http = http
        let scheme = plainHTTP ? "http" : "https"
        self.scheme = scheme
        let aad = RefreshingCache<String, String> { scope throws(RegistryError) in
            try await identity.token(scope: scope, http: http, provider: provider)
        }
        aadTokens = aad
        refreshTokens = RefreshingCache<String, RegistryCredential> { host throws(RegistryError) in
            let started = ContinuousClock.now
            let token = try await aad.value(for: Self.scope, deadline: .now + http.requestTimeout)
            let aadLeft = await aad.remaining(for: Self.scope) ?? .seconds(300)
            var fields = [("grant_type", "access_token"), ("service", host), ("access_token", token)]
            if let tenant = identity.tenantID { fields.insert(("tenant", tenant), at: 2) }
            let response = try await http.postForm("\(scheme)://\(host)/oauth2/exchange", fields, provider: provider)
            let document = try? JSONParser.parse(response.body)
            guard response.status == 200 else {
                // The registry refused the Entra ID token itself: fetch a new one next time.
                if response.status == 401 { await aad.invalidate(Self.scope) }
                let reason = document?["errors"]?.arrayValue?.first?["message"]?.stringValue ?? document?["error"]?.stringValue ?? ""
                throw RegistryError(.credentialProvider, "\(provider): failed to get refresh token for container registry \(host): HTTP \(response.status)\(reason.isEmpty ? "" : " " + reason)")
            }
            guard let refresh = document?["refresh_token"]?.stringValue, !refresh.isEmpty else {
                throw RegistryError(.credentialProvider, "\(provider): \(host)/oauth2/exchange answered without a refresh_token")
            }
            let lifetime = min(.seconds(3 * 3600 - 300), aadLeft - (ContinuousClock.now - started))
            return Expiring(RegistryCredential(username: Self.zeroGUID, password: refresh, identityToken: refresh),
                            lifetime: max(lifetime, .seconds(10)), obtainedAt: started)
        }
    }

    public func rejected(registry: String) async {
        await refreshTokens.invalidate(registry.lowercased())
    }

    public func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential? {
        guard hosts.matches(registry) else { return nil }
        return try await refreshTokens.value(for: registry.lowercased(), deadline: deadline)
    }
}
