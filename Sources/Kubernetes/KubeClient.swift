import Core
import Crypto
import Foundation
import JSON
import HTTPClient

/// Where the Kubernetes API is and how to authenticate: in-cluster (the service account's token
/// and CA), or explicit (a local run, the tests' API server double).
public struct KubeConnection: Sendable {
    public var server: String
    public var token: String?
    public var caFile: String?
    public var insecureSkipVerify = false

    public init(server: String, token: String? = nil, caFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
    }

    public static let serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The pod's view: `KUBERNETES_SERVICE_HOST`/`_PORT`, the mounted token and CA.
    /// `serviceAccount`: where the pod's token and CA are mounted (a test points elsewhere).
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 serviceAccount: String = Self.serviceAccount) throws(KubeError) -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw KubeError(.configuration, "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); pass --kube-api-server for a local run")
        }
        guard let token = try? String(contentsOfFile: "\(serviceAccount)/token", encoding: .utf8) else {
            throw KubeError(.configuration, "cannot read the service account token at \(serviceAccount)/token")
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return KubeConnection(server: "https://\(bracketed):\(port)", token: token.trimmingCharacters(in: .whitespacesAndNewlines),
                              caFile: "\(serviceAccount)/ca.crt")
    }
}

public struct KubeError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case configuration = "KUBE_CONFIGURATION"
        case transport = "KUBE_TRANSPORT"
        case status = "KUBE_STATUS"
        case gone = "KUBE_RESOURCE_VERSION_GONE"
        case invalidResponse = "KUBE_INVALID_RESPONSE"
    }
    public let code: Code
    public let message: String
    /// The HTTP status of a `.status` error (404: the object does not exist).
    public var status: Int? = nil
    public init(_ code: Code, _ message: String, status: Int? = nil) { self.code = code; self.message = message; self.status = status }
    public var description: String { "\(code.rawValue): \(message)" }
}

/// One event of a watch stream (`{"type": …, "object": …}`, newline-delimited JSON).
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR" }
    public let kind: Kind
    public let object: JSONValue
}

/// The few API calls the CRD manager needs — list, watch, get, status merge-patch — over
/// libcurl on a transport of its own (watches hold connections open for minutes).
public struct KubeClient: Sendable {
    public let connection: KubeConnection
    let transport: CurlMultiTransport

    public init(connection: KubeConnection, transport: CurlMultiTransport = CurlMultiTransport(maxConnectionsPerHost: 32)) {
        self.connection = connection
        self.transport = transport
    }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, timeout: Duration = .seconds(30),
                 onChunk: (@Sendable ([UInt8]) -> Void)? = nil) -> TransportRequest {
        var request = TransportRequest(method: method, url: connection.server + path, maxResponseBytes: 32 * 1024 * 1024, timeout: timeout,
                                       insecureSkipVerify: connection.insecureSkipVerify, body: body)
        request.caFile = connection.caFile
        request.onChunk = onChunk
        request.headers.append((name: "Accept", value: "application/json"))
        if let token = connection.token { request.headers.append((name: "Authorization", value: "Bearer \(token)")) }
        if let contentType { request.headers.append((name: "Content-Type", value: contentType)) }
        return request
    }

    func send(_ request: TransportRequest) async throws(KubeError) -> TransportResponse {
        let response: TransportResponse
        do { response = try await transport.send(request) } catch { throw KubeError(.transport, error.description) }
        if response.status == 410 { throw KubeError(.gone, "\(request.url): 410 Gone") }
        guard (200..<300).contains(response.status) else {
            let detail = (try? JSONParser.parse(response.body))?["message"]?.stringValue ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            throw KubeError(.status, "\(request.method) \(request.url): HTTP \(response.status): \(detail)", status: response.status)
        }
        return response
    }

    /// `GET <collection>`: the items and the list's resourceVersion (where a watch starts).
    public func list(_ path: String) async throws(KubeError) -> (items: [JSONValue], resourceVersion: String) {
        let response = try await send(request("GET", path))
        guard let document = try? JSONParser.parse(response.body, options: .apiServer), let items = document["items"]?.arrayValue ?? (document["items"]?.isNull == true ? [] : nil),
              let version = document["metadata"]?["resourceVersion"]?.stringValue else {
            throw KubeError(.invalidResponse, "\(path): not a Kubernetes list (items, metadata.resourceVersion)")
        }
        return (items, version)
    }

    public func get(_ path: String) async throws(KubeError) -> JSONValue {
        let response = try await send(request("GET", path))
        guard let document = try? JSONParser.parse(response.body, options: .apiServer) else { throw KubeError(.invalidResponse, "\(path): not JSON") }
        return document
    }

    /// `PATCH <object>/status` with a JSON merge patch `{"status": …}`.
    public func patchStatus(_ path: String, status: JSONValue) async throws(KubeError) {
        let body = JSONWriter.encode(["status": status])
        _ = try await send(request("PATCH", path + "/status", body: body, contentType: "application/merge-patch+json"))
    }

    /// `GET <collection>?watch=1&resourceVersion=…&allowWatchBookmarks=true`: events as they
    /// come until the server ends the stream (its timeoutSeconds) or the connection fails.
    /// A `410 Gone` — at the start or as an ERROR event — throws `.gone`: the caller relists.
    public func watch(_ path: String, resourceVersion: String, timeoutSeconds: Int = 300,
                      onEvent: @escaping @Sendable (WatchEvent) -> Void) async throws(KubeError) {
        let lines = LineSplitter()
        let gone = GoneFlag()
        let query = "?watch=1&allowWatchBookmarks=true&resourceVersion=\(resourceVersion)&timeoutSeconds=\(timeoutSeconds)"
        let request = request("GET", path + query, timeout: .seconds(timeoutSeconds + 30)) { chunk in
            for line in lines.feed(chunk) {
                guard let event = try? JSONParser.parse(line, options: .apiServer), let type = event["type"]?.stringValue,
                      let kind = WatchEvent.Kind(rawValue: type), let object = event["object"] else { continue }
                if kind == .error, object["code"]?.intValue == 410 { gone.set() }
                onEvent(WatchEvent(kind: kind, object: object))
            }
        }
        _ = try await send(request)
        if gone.isSet { throw KubeError(.gone, "\(path): watch ended with 410 Gone (resourceVersion \(resourceVersion) is too old)") }
    }
}

/// Splits a byte stream into newline-terminated lines; used from the transport's thread only.
final class LineSplitter: @unchecked Sendable {
    private var pending: [UInt8] = []

    func feed(_ chunk: [UInt8]) -> [[UInt8]] {
        pending += chunk
        var lines: [[UInt8]] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if !line.isEmpty { lines.append(line) }
        }
        return lines
    }
}

final class GoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

extension KubeConnection {
    /// A kubeconfig document (already turned from YAML into JSON): the current (or named)
    /// context's cluster `server`, `certificate-authority` / `-data`, `insecure-skip-tls-verify`,
    /// and the user's `token` / `tokenFile`. Client-certificate and exec users are refused with
    /// the reason: this client authenticates with bearer tokens.
    public static func kubeconfig(_ document: JSONValue, source: String, context name: String? = nil) throws(KubeError) -> KubeConnection {
        func named(_ list: String, _ wanted: String) -> JSONValue? {
            document[list]?.arrayValue?.first { $0["name"]?.stringValue == wanted }
        }
        guard let contextName = name ?? document["current-context"]?.stringValue, let context = named("contexts", contextName)?["context"] else {
            throw KubeError(.configuration, "\(source): no context \(name ?? "current-context") found")
        }
        guard let clusterName = context["cluster"]?.stringValue, let cluster = named("clusters", clusterName)?["cluster"],
              let server = cluster["server"]?.stringValue else {
            throw KubeError(.configuration, "\(source): context \(contextName) names no cluster with a server")
        }
        var connection = KubeConnection(server: server)
        connection.insecureSkipVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        if let file = cluster["certificate-authority"]?.stringValue {
            connection.caFile = file
        } else if let data = cluster["certificate-authority-data"]?.stringValue {
            guard let pem = Data(base64Encoded: data) else { throw KubeError(.configuration, "\(source): certificate-authority-data is not base64") }
            // curl reads CAs from a file: keep the decoded bundle next to the process, named by
            // its content (two kubeconfigs read at once must not overwrite each other's CA). Written atomically: a reader never sees it half-written.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-kube-ca-\(Hash.hex(.sha256, Array(pem)).prefix(16)).pem")
            do { try pem.write(to: file, options: .atomic) } catch { throw KubeError(.configuration, "cannot write the cluster CA to \(file.path)") }
            connection.caFile = file.path
        }
        if let userName = context["user"]?.stringValue, let user = named("users", userName)?["user"] {
            if let token = user["token"]?.stringValue {
                connection.token = token
            } else if let file = user["tokenFile"]?.stringValue {
                guard let token = try? String(contentsOfFile: file, encoding: .utf8) else { throw KubeError(.configuration, "\(source): cannot read tokenFile \(file)") }
                connection.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
            } else if user["client-certificate"] != nil || user["client-certificate-data"] != nil || user["exec"] != nil {
                throw KubeError(.configuration, "\(source): user \(userName) authenticates with a client certificate or an exec plugin; this client needs a bearer token (token or tokenFile)")
            }
        }
        return connection
    }
}
