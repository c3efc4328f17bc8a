import Foundation

/// Certificates for tests, made with the OpenSSL command-line tool — an implementation independent
/// of the code under test. Each instance works in its own temporary directory.
public final class TestPKI: @unchecked Sendable {
    public let directory: URL

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// One set of certificates for the whole test run, made once: a server CA with a
    /// `localhost` leaf (`server`), Gatekeeper's client CA with a client leaf (`gatekeeper`),
    /// and an unrelated CA with its own client leaf (`rogue`). Running openssl for every test
    /// would keep Swift's small cooperative pool busy and starve the servers under test.
    public static let shared: TestPKI = {
        do {
            let pki = try TestPKI()
            try pki.makeCA("server-ca")
            try pki.issue("server", by: "server-ca", purpose: .server)
            try pki.makeCA("gatekeeper-ca")
            try pki.issue("gatekeeper", by: "gatekeeper-ca", purpose: .client)
            try pki.makeCA("rogue-ca")
            try pki.issue("rogue", by: "rogue-ca", purpose: .client)
            return pki
        } catch {
            fatalError("cannot create the shared test PKI with openssl: \(error)")
        }
    }()

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    public struct Issued: Sendable {
        public let certificate: String
        public let key: String
    }

    /// A self-signed CA (`name.crt`, `name.key`).
    @discardableResult
    public func makeCA(_ name: String, keyType: KeyType = .ecP256) throws -> Issued {
        try run(["req", "-x509", "-new"] + keyType.newKeyArguments + ["-nodes", "-keyout", path("\(name).key"),
                 "-out", path("\(name).crt"), "-days", "2", "-subj", "/CN=\(name)",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return Issued(certificate: path("\(name).crt"), key: path("\(name).key"))
    }

    public enum Purpose: Sendable { case server, client, codeSigning, intermediateCA }
    public enum KeyType: Sendable {
        case ecP256, rsa2048
        var newKeyArguments: [String] {
            switch self {
            case .ecP256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            case .rsa2048: ["-newkey", "rsa:2048"]
            }
        }
    }

    /// A leaf signed by `ca` (`name.crt`, `name.key`); server leaves carry localhost / 127.0.0.1 SANs.
    @discardableResult
    public func issue(_ name: String, by ca: String, purpose: Purpose, commonName: String? = nil,
                      subject: String? = nil, days: Int = 2, keyType: KeyType = .ecP256) throws -> Issued {
        let extensions = path("\(name).ext")
        let ext: String
        switch purpose {
        case .server: ext = "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:ratify.gatekeeper-system\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
        case .client: ext = "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"
        case .codeSigning: ext = "keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nbasicConstraints=critical,CA:FALSE\n"
        case .intermediateCA: ext = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
        }
        try ext.write(toFile: extensions, atomically: true, encoding: .utf8)
        try run(["req", "-new"] + keyType.newKeyArguments + ["-nodes", "-keyout", path("\(name).key"),
                 "-out", path("\(name).csr"), "-subj", subject ?? "/CN=\(commonName ?? name)"])
        try run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).crt"), "-CAkey", path("\(ca).key"),
                 "-CAcreateserial", "-out", path("\(name).crt"), "-days", String(days), "-extfile", extensions])
        return Issued(certificate: path("\(name).crt"), key: path("\(name).key"))
    }

    /// Concatenates PEM files into one bundle.
    public func bundle(_ name: String, of files: [String]) throws -> String {
        let text = try files.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func run(_ arguments: [String]) throws {
        let result = try ProcessRunner.run("/usr/bin/openssl", arguments)
        guard result.status == 0 else {
            throw TestFailure("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.output)")
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum ProcessRunner {
    public struct Result: Sendable {
        public let status: Int32
        public let output: String
    }

    /// Runs a program to completion, capturing stdout and stderr together.
    public static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

extension ProcessRunner {
    /// Runs a fixture generator (`python3 script args…`) to completion; a non-zero exit is a
    /// test failure carrying the script's name and output.
    public static func python(_ script: String, _ arguments: [String]) throws {
        let result = try run("/usr/bin/env", ["python3", script] + arguments)
        guard result.status == 0 else {
            throw TestFailure("\(URL(fileURLWithPath: script).lastPathComponent): \(result.output)")
        }
    }
}

/// Servers a test starts (an OCSP responder, the Kubernetes API double, ratify itself) and must
/// not leave behind. Stopped with SIGKILL: a child spawned from a libdispatch thread can inherit
/// an ignored SIGTERM, and `waitUntilExit()` would then spin forever.
public final class ChildProcesses: @unchecked Sendable {
    private var processes: [Process] = []

    public init() {}

    /// Starts `executable` (with `environment` added to ours); its stdout and stderr go to `log` (created) or nowhere.
    @discardableResult
    public func start(_ executable: String, _ arguments: [String], log: String? = nil, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
        processes.append(process)
        return process
    }

    public func stopAll() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs blocking work (curl, raw sockets) on a thread of its own. Not on a global dispatch
/// queue: on Linux those threads *are* Swift's cooperative pool, and blocking them would starve
/// the server under test.
@discardableResult
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}
