import HTTPClient
import Core
import Foundation
import JSON

extension ORASStore {
    static let maxAttempts = 4

    /// One registry request with everything around it: the cached authorization for the
    /// repository, the 401 challenge flow, and retries of 429/503 that honour Retry-After —
    /// all inside `deadline`. Only GET and HEAD come through here, so every retry is safe.
    func send(_ method: String, _ reference: ImageReference, path: String, accept: String, maxBytes: Int,
              deadline: ContinuousClock.Instant) async throws(RegistryError) -> TransportResponse {
        let scheme = options.useHttp ? "http" : "https"
        let host = reference.apiHost
        let url = "\(scheme)://\(host)/v2/\(reference.repository)/\(path)"
        let authKey = reference.name
        var authorized = false
        var attempt = 0
        while true {
            attempt += 1
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw RegistryError(.timeout, "\(method) \(reference.registry)/\(reference.repository)/\(path): deadline passed before the request could be sent")
            }
            var headers: [(name: String, value: String)] = []
            if !accept.isEmpty { headers.append((name: "Accept", value: accept)) }
            if let authorization = authorizations.get(authKey) { headers.append((name: "Authorization", value: authorization)) }
            let request = TransportRequest(method: method, url: url, headers: headers, maxResponseBytes: max(maxBytes, 64 * 1024),
                                           timeout: min(remaining, options.requestTimeout), insecureSkipVerify: options.insecureSkipVerify)
            let response = try await counted(request, host: host)

            if response.status == 401 && authorized {
                // Refused with what the provider gave: it must not hand out the same again.
                await credentials.rejected(registry: reference.registry)
            }
            if response.status == 401 && !authorized {
                authorized = true
                let authorization = try await authorize(response, reference: reference, deadline: deadline)
                authorizations.put(authKey, authorization.value, ttl: authorization.lifetime)
                continue
            }
            if (response.status == 429 || response.status == 503) && attempt < Self.maxAttempts {
                let delay = Self.retryDelay(retryAfter: response.header("Retry-After"), attempt: attempt)
                guard ContinuousClock.now + delay < deadline else {
                    throw RegistryError(.rateLimited,
                        "\(reference.registry) answered HTTP \(response.status) for \(path) and asked to wait \(delay), past the request deadline")
                }
                try? await Task.sleep(for: delay)
                continue
            }
            if response.status == 429 {
                throw RegistryError(.rateLimited, "\(reference.registry) still rate-limits \(path) after \(attempt) attempts")
            }
            return response
        }
    }

    /// Sends through the transport and reports the request to `onRequest` (status 0 when no
    /// response arrived), so every request reaches `ratify_registry_request_count`.
    private func counted(_ request: TransportRequest, host: String) async throws(RegistryError) -> TransportResponse {
        do {
            let response = try await transport.send(request)
            onRequest(host, response.status)
            return response
        } catch {
            onRequest(host, 0)
            throw RegistryError(transport: error)
        }
    }

    /// Retry-After as seconds or an HTTP-date (RFC 9110 §10.2.3); otherwise exponential backoff
    /// from 100 ms with full jitter, capped at 2 s.
    static func retryDelay(retryAfter: String?, attempt: Int, now: Date = Date()) -> Duration {
        if let value = retryAfter?.trimmingCharacters(in: .whitespaces) {
            if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
            if let date = HTTPDate.parse(value) {
                return .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
            }
        }
        let cap = min(2000, 100 << min(attempt - 1, 5))
        return .milliseconds(Int.random(in: cap / 2...cap))
    }

    /// Answers a 401 challenge: Basic with configured credentials, or the Docker token flow
    /// (GET realm?service=…&scope=repository:<name>:pull, Basic-authenticated when we have
    /// credentials, or POST with an identity token).
    private func authorize(_ response: TransportResponse, reference: ImageReference,
                           deadline: ContinuousClock.Instant) async throws(RegistryError) -> (value: String, lifetime: Duration) {
        guard let header = response.header("WWW-Authenticate"), let challenge = AuthChallenge.parse(header) else {
            throw RegistryError(.unauthorized, "\(reference.registry) answered 401 for \(reference.repository) without a usable WWW-Authenticate challenge")
        }
        // A provider that cannot produce its credential (an identity endpoint down, a token
        // refused) leaves the request anonymous, as Ratify does — a public repository still
        // works — and a refusal then names the provider's reason.
        let credential: RegistryCredential?
        var providerProblem: RegistryError?
        do {
            credential = try await credentials.credential(for: reference.registry, deadline: deadline)
        } catch {
            if error.code == .timeout { throw error }
            credential = nil
            providerProblem = error
        }
        switch challenge.scheme {
        case "basic":
            guard let credential else {
                if let providerProblem {
                    throw RegistryError(.credentialProvider, "\(reference.registry) requires credentials for \(reference.repository): \(providerProblem.message)")
                }
                throw RegistryError(.unauthorized, "\(reference.registry) requires credentials for \(reference.repository) and none are configured for it")
            }
            return ("Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString(), .seconds(300))
        case "bearer":
            let token: (token: String, lifetime: Duration)
            do {
                token = try await fetchToken(challenge, reference: reference, credential: credential, deadline: deadline)
            } catch {
                if let providerProblem, error.code == .unauthorized {
                    throw RegistryError(.credentialProvider, "\(error.message); the auth provider had no credential: \(providerProblem.message)")
                }
                throw error
            }
            return ("Bearer " + token.token, token.lifetime)
        default:
            throw RegistryError(.unauthorized, "\(reference.registry) asks for unsupported auth scheme \(challenge.scheme)")
        }
    }

    /// A token realm must not be plain http for an https registry: the credentials sent to it
    /// would travel in clear. (A registry configured as plain HTTP already accepts that.)
    public static func realmProblem(scheme: String?, realm: String, registry: String, registryIsPlainHTTP: Bool) -> String? {
        guard scheme == "http", !registryIsPlainHTTP else { return nil }
        return "\(registry) named the token realm \(realm), plain http for an https registry: credentials would travel in clear, so it is not used"
    }

    private func fetchToken(_ challenge: AuthChallenge, reference: ImageReference, credential: RegistryCredential?,
                            deadline: ContinuousClock.Instant) async throws(RegistryError) -> (token: String, lifetime: Duration) {
        guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm),
              components.scheme == "https" || components.scheme == "http", let realmHost = components.host else {
            throw RegistryError(.unauthorized, "\(reference.registry) sent a bearer challenge without a valid realm")
        }
        if let problem = Self.realmProblem(scheme: components.scheme, realm: realm, registry: reference.registry, registryIsPlainHTTP: options.useHttp) {
            throw RegistryError(.unauthorized, problem)
        }
        let scope = challenge.parameters["scope"] ?? "repository:\(reference.repository):pull"
        let service = challenge.parameters["service"]
        let remaining = deadline - .now
        guard remaining > .zero else { throw RegistryError(.timeout, "deadline passed before fetching a token from \(realmHost)") }
        var request: TransportRequest
        if let token = credential?.identityToken {
            // OAuth2 refresh-token grant (docker/distribution token spec, "oauth.md"): a POST of
            // an application/x-www-form-urlencoded form — the token never goes in a URL (URLs
            // end up in logs and proxies).
            var form = URLComponents()
            form.queryItems = [URLQueryItem(name: "grant_type", value: "refresh_token"), URLQueryItem(name: "refresh_token", value: token),
                               URLQueryItem(name: "client_id", value: "ratify"), URLQueryItem(name: "scope", value: scope)]
                + (service.map { [URLQueryItem(name: "service", value: $0)] } ?? [])
            // `+` is not escaped by URLComponents but means a space in a form body.
            let body = (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            request = TransportRequest(method: "POST", url: realm)
            request.followRedirects = false  // the body is the refresh token
            request.headers.append((name: "Content-Type", value: "application/x-www-form-urlencoded"))
            request.body = Array(body.utf8)
        } else {
            var query = [URLQueryItem(name: "scope", value: scope)]
            if let service { query.insert(URLQueryItem(name: "service", value: service), at: 0) }
            components.queryItems = (components.queryItems ?? []) + query
            request = TransportRequest(method: "GET", url: components.string ?? realm)
            if let credential {
                request.headers.append((name: "Authorization",
                                        value: "Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString()))
            }
        }
        request.timeout = min(remaining, options.requestTimeout)
        request.maxResponseBytes = 1024 * 1024
        request.insecureSkipVerify = options.insecureSkipVerify
        let response = try await counted(request, host: realmHost)
        guard response.status == 200 else {
            throw RegistryError(.unauthorized, "token service \(realmHost) refused \(scope) for \(reference.registry): HTTP \(response.status)"
                                + (credential == nil ? " (no credentials configured for \(reference.registry))" : ""))
        }
        guard let document = try? JSONParser.parse(response.body),
              let token = document["token"]?.stringValue ?? document["access_token"]?.stringValue, !token.isEmpty else {
            throw RegistryError(.invalidResponse, "token service \(realmHost) answered without a token")
        }
        // Token spec: expires_in defaults to 60 s. Renew 10 s early so a token never expires in flight.
        let expiresIn = max(document["expires_in"]?.intValue ?? 60, 20)
        return (token, .seconds(expiresIn - 10))
    }
}
