import Crypto
import Foundation
import HTTPServer
import TLS
import JSON
import Synchronization

/// A small, honest in-repo test registry that serves what Debian's distribution 2.8 lacks: the
/// OCI distribution spec 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`, with the
/// `artifactType` filter, `OCI-Filters-Applied`, and `Link` pagination). It also serves
/// manifests and blobs, and can inject faults (429 with Retry-After, delays). Test double only.
public final class ReferrersTestRegistry: ContentPusher, HTTPHandler, @unchecked Sendable {
    struct StoredManifest { var bytes: [UInt8]; var mediaType: String }
    struct State {
        var blobs: [String: [UInt8]] = [:]
        var manifests: [String: [String: StoredManifest]] = [:]  // repository → reference (tag or digest)
        var requests: [String] = []
        var faults: [(status: Int, retryAfter: String?)] = []
        /// Path → Location: answered 307 (blob downloads redirected to storage).
        var redirects: [String: String] = [:]
        /// Each request's Authorization header, nil when absent.
        var authorizations: [String?] = []
    }

    private let state = Mutex(State())
    public var pageSize: Int
    /// Answer HEAD on manifests without `Docker-Content-Digest`, as some registries do.
    public var omitDigestOnHead = false
    /// Answer the referrers API with a 200 that is not an image index (clients must fall back).
    public var referrersAnswerNonIndex = false
    /// Repositories whose referrers API answers 404 (as a registry routing some repositories
    /// to a backend without the API might).
    public var referrersAPIMissing: Set<String> = []
    /// Answer 404 for every referrers page after the first (a listing broken halfway).
    public var laterReferrersPagesMissing = false
    public let delay: Duration
    private var server: HTTPServer!

    public var port: UInt16 { server.port }
    public var host: String { "127.0.0.1:\(port)" }
    /// `Basic <base64>` the registry requires (401 with a Basic challenge otherwise); nil: open.
    public let requiredAuthorization: String?

    /// `tls`: serve HTTPS with it (a registry behind a certificate).
    public init(pageSize: Int = 100, delay: Duration = .zero, tls: ReloadingTLSContext? = nil, basicAuth: (user: String, password: String)? = nil) throws {
        self.pageSize = pageSize
        self.delay = delay
        requiredAuthorization = basicAuth.map { "Basic " + Data("\($0.user):\($0.password)".utf8).base64EncodedString() }
        server = try HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, tls: tls, eventLoops: 1), handler: self)
    }

    /// Requests for `path` are answered `307 Temporary Redirect` to `location`.
    public func redirect(_ path: String, to location: String) { state.withLock { $0.redirects[path] = location } }

    /// The Authorization header of each request so far (nil where none was sent).
    public var authorizations: [String?] { state.withLock { $0.authorizations } }

    public func stop() async { await server.shutdown(gracePeriod: .seconds(1)) }

    /// The next `count` requests are answered with `status` (and Retry-After when given).
    public func injectFaults(status: Int, count: Int, retryAfter: String? = nil) {
        state.withLock { $0.faults += Array(repeating: (status: status, retryAfter: retryAfter), count: count) }
    }

    public var requests: [String] { state.withLock { $0.requests } }

    // MARK: ContentPusher (direct, no HTTP)

    public func pushBlob(_ repository: String, _ bytes: [UInt8]) throws -> PushedContent {
        let digest = "sha256:" + Hash.hex(.sha256, bytes)
        state.withLock { $0.blobs["\(repository)@\(digest)"] = bytes }
        return PushedContent(digest: digest, size: bytes.count, mediaType: "application/octet-stream")
    }

    public func pushManifest(_ repository: String, reference: String, _ bytes: [UInt8], mediaType: String) throws -> PushedContent {
        let digest = "sha256:" + Hash.hex(.sha256, bytes)
        state.withLock {
            $0.manifests[repository, default: [:]][reference] = StoredManifest(bytes: bytes, mediaType: mediaType)
            $0.manifests[repository, default: [:]][digest] = StoredManifest(bytes: bytes, mediaType: mediaType)
        }
        return PushedContent(digest: digest, size: bytes.count, mediaType: mediaType)
    }

    public func fetchManifest(_ repository: String, reference: String) throws -> [UInt8]? {
        state.withLock { $0.manifests[repository]?[reference]?.bytes }
    }

    /// Overwrites stored blob bytes without changing the digest they are served under.
    public func corruptBlob(_ digest: String, with bytes: [UInt8]) {
        state.withLock { s in
            for key in s.blobs.keys where key.hasSuffix("@\(digest)") { s.blobs[key] = bytes }
        }
    }

    // MARK: HTTP

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        if delay > .zero { try? await Task.sleep(for: delay) }
        let fault: (status: Int, retryAfter: String?)? = state.withLock { s in
            s.requests.append("\(request.method) \(request.target)")
            s.authorizations.append(request.headers["Authorization"])
            return s.faults.isEmpty ? nil : s.faults.removeFirst()
        }
        if let required = requiredAuthorization, request.headers["Authorization"] != required {
            var response = HTTPResponse.json(HTTPStatus(401, "Unauthorized"), Array(#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.utf8))
            response.headers.add("WWW-Authenticate", #"Basic realm="test registry""#)
            return response
        }
        if let location = state.withLock({ $0.redirects[String(request.path)] }) {
            var response = HTTPResponse.text(HTTPStatus(307, "Temporary Redirect"), "")
            response.headers.add("Location", location)
            return response
        }
        if let fault {
            var response = HTTPResponse.json(HTTPStatus(fault.status, "Fault"), Array(#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#.utf8))
            if let retryAfter = fault.retryAfter { response.headers.add("Retry-After", retryAfter) }
            return response
        }
        let path = String(request.path)
        if path == "/v2/" { return .json(.ok, Array("{}".utf8)) }
        guard path.hasPrefix("/v2/") else { return notFound() }
        let rest = path.dropFirst(4)
        for kind in ["/manifests/", "/blobs/", "/referrers/"] {
            guard let range = rest.range(of: kind, options: .backwards) else { continue }
            let repository = String(rest[..<range.lowerBound]), reference = String(rest[range.upperBound...])
            switch kind {
            case "/manifests/": return manifest(repository, reference, head: request.method == "HEAD")
            case "/blobs/": return blob(repository, reference)
            default:
                // Some registries answer unknown API paths with a 200 page that is not an index.
                if referrersAnswerNonIndex { return .text(.ok, "<html>registry front page</html>") }
                if referrersAPIMissing.contains(repository) { return notFound() }
                if laterReferrersPagesMissing, request.target.contains("last=") { return notFound() }
                return referrers(repository, reference, query: query(request.target))
            }
        }
        return notFound()
    }

    /// Distribution spec error codes: NAME_UNKNOWN (no such repository), MANIFEST_UNKNOWN,
    /// BLOB_UNKNOWN; NOT_FOUND for any other path.
    private func notFound(_ code: String = "NOT_FOUND") -> HTTPResponse {
        .json(.notFound, Array(#"{"errors":[{"code":"\#(code)","message":"\#(code.lowercased().replacingOccurrences(of: "_", with: " "))"}]}"#.utf8))
    }

    private func repositoryExists(_ repository: String) -> Bool {
        state.withLock { s in s.manifests[repository] != nil || s.blobs.keys.contains { $0.hasPrefix("\(repository)@") } }
    }

    private func manifest(_ repository: String, _ reference: String, head: Bool) -> HTTPResponse {
        guard let stored = state.withLock({ $0.manifests[repository]?[reference] }) else {
            return notFound(repositoryExists(repository) ? "MANIFEST_UNKNOWN" : "NAME_UNKNOWN")
        }
        var headers = HTTPHeaders([(name: "Content-Type", value: stored.mediaType)])
        if !(head && omitDigestOnHead) { headers.add("Docker-Content-Digest", "sha256:" + Hash.hex(.sha256, stored.bytes)) }
        return HTTPResponse(status: .ok, headers: headers, body: stored.bytes)
    }

    /// Blobs belong to a repository: one pushed to another repository is unknown here.
    private func blob(_ repository: String, _ digest: String) -> HTTPResponse {
        guard let bytes = state.withLock({ $0.blobs["\(repository)@\(digest)"] }) else {
            return notFound(repositoryExists(repository) ? "BLOB_UNKNOWN" : "NAME_UNKNOWN")
        }
        return HTTPResponse(status: .ok, headers: HTTPHeaders([(name: "Content-Type", value: "application/octet-stream")]), body: bytes)
    }

    private func query(_ target: String) -> [String: String] {
        guard let components = URLComponents(string: "http://x" + target) else { return [:] }
        return (components.queryItems ?? []).reduce(into: [:]) { $0[$1.name] = $1.value ?? "" }
    }

    private func referrers(_ repository: String, _ digest: String, query: [String: String]) -> HTTPResponse {
        let all: [JSONValue] = state.withLock { s in
            (s.manifests[repository] ?? [:]).filter { $0.key.hasPrefix("sha256:") }.sorted { $0.key < $1.key }.compactMap { key, stored in
                guard let document = try? JSONParser.parse(stored.bytes), document["subject"]?["digest"]?.stringValue == digest else { return nil }
                var entry: JSONObject = ["mediaType": .string(stored.mediaType), "digest": .string(key), "size": .int(stored.bytes.count)]
                let type = document["artifactType"]?.stringValue ?? document["config"]?["mediaType"]?.stringValue
                if let type { entry["artifactType"] = .string(type) }
                if let annotations = document["annotations"] { entry["annotations"] = annotations }
                return .object(entry)
            }
        }
        var matching = all
        var headers = HTTPHeaders([(name: "Content-Type", value: "application/vnd.oci.image.index.v1+json")])
        if let type = query["artifactType"] {
            matching = all.filter { $0["artifactType"]?.stringValue == type }
            headers.add("OCI-Filters-Applied", "artifactType")
        }
        let start = Int(query["last"] ?? "") ?? 0
        let page = Array(matching.dropFirst(start).prefix(pageSize))
        if start + page.count < matching.count {
            var next = "/v2/\(repository)/referrers/\(digest)?last=\(start + page.count)"
            if let type = query["artifactType"] { next += "&artifactType=\(type)" }
            headers.add("Link", "<\(next)>; rel=\"next\"")
        }
        let index: JSONValue = ["schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": .array(page)]
        return HTTPResponse(status: .ok, headers: headers, body: JSONWriter.encode(index))
    }
}
