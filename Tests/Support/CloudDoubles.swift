import Foundation
import JSON

/// `cloud_doubles.py` (test doubles of Entra ID, IMDS, ACR's token endpoints, AWS STS and ECR,
/// Alibaba STS and ACR, Key Vault) in front of an open docker-registry, on one loopback port.
/// The configuration is a JSON file the double re-reads per request, so tests change it mid-run.
public final class CloudDoubles: @unchecked Sendable {
    public let registry: LocalRegistry
    public let port: UInt16
    public let directory: URL
    private let children = ChildProcesses()
    private var configuration: JSONObject

    public var address: String { "127.0.0.1:\(port)" }
    public var url: String { "http://127.0.0.1:\(port)" }
    var configFile: URL { directory.appendingPathComponent("config.json") }
    var logFile: URL { directory.appendingPathComponent("requests.jsonl") }

    /// The projected service-account token every provider's identity is bound to.
    public var serviceAccountToken: URL { directory.appendingPathComponent("sa-token") }

    /// `registryAuth`: how `/v2/` is protected — "acr", "ecr" or "alibaba".
    public init(registryAuth: String) throws {
        registry = try LocalRegistry()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-cloud-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.\(UUID().uuidString)".write(to: directory.appendingPathComponent("sa-token"),
                                                                                              atomically: true, encoding: .utf8)
        port = try freePort()
        let token = directory.appendingPathComponent("sa-token").path
        configuration = [
            "registry": ["auth": .string(registryAuth), "upstreamPort": .number(String(registry.port))],
            "azure": ["tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47", "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11",
                      "federatedTokenFile": .string(token)],
            "aws": ["roleARN": "arn:aws:iam::123456789012:role/ratify-ecr", "webIdentityTokenFile": .string(token), "region": "us-west-2"],
            "alibaba": ["roleARN": "acs:ram::1234567890123456:role/ratify", "oidcProviderARN": "acs:ram::1234567890123456:oidc-provider/ack-rrsa",
                        "oidcTokenFile": .string(token), "instanceID": "cri-ratifytest01"],
            "keyvault": ["certificates": [:], "keys": [:]],
        ]
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        try write()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("cloud_doubles.py").path
        try children.start("/usr/bin/env", ["python3", script, String(port), configFile.path, logFile.path],
                           log: directory.appendingPathComponent("double.log").path)
        try waitForPort(port, timeout: 30)
    }

    deinit { stop() }

    public func stop() {
        children.stopAll()
        registry.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Sets `section.key` in the double's configuration (lifetimes in seconds, clock skew…).
    public func set(_ section: String, _ key: String, _ value: JSONValue) throws {
        var object = configuration[section]?.objectValue ?? JSONObject()
        object[key] = value
        configuration[section] = .object(object)
        try write()
    }

    /// Sets a top-level key (`clockSkewSeconds`: the services' clock runs that far ahead).
    public func setTop(_ key: String, _ value: JSONValue) throws {
        configuration[key] = value
        try write()
    }

    private func write() throws {
        let temporary = directory.appendingPathComponent("config.json.new")
        try Data(JSONWriter.encode(.object(configuration))).write(to: temporary)
        guard rename(temporary.path, configFile.path) == 0 else { throw TestFailure("rename \(temporary.path) failed: errno \(errno)") }
    }

    /// What the double printed (tracebacks), for failure messages.
    public var output: String {
        (try? String(contentsOf: directory.appendingPathComponent("double.log"), encoding: .utf8)) ?? ""
    }

    /// The last `count` requests the double logged, as it logged them (for failure messages).
    public func lastRequests(_ count: Int) -> String {
        ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// The requests the double has seen, as `what` names them ("entra", "acr-exchange", "ecr"…).
    public func requests(_ what: String) -> [JSONValue] {
        ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONParser.parse(Array($0.utf8)) }
            .filter { $0["what"]?.stringValue == what }
    }
}
