import Foundation
import HTTPServer
import Synchronization
import Testing
import TestSupport
import TLS

@Suite struct TLSServerTests {
    let pki: TestPKI

    /// openssl runs off the cooperative pool (other tests' servers need it meanwhile).
    init() async throws {
        pki = try await offPool { TestPKI.shared }
    }

    func serverTLS(clientCA: Bool = false, minimum: TLSServerConfiguration.ProtocolVersion = .tls1_2) throws -> ReloadingTLSContext {
        try ReloadingTLSContext(configuration: TLSServerConfiguration(
            certificateChainFile: pki.path("server.crt"), privateKeyFile: pki.path("server.key"),
            clientCAFile: clientCA ? pki.path("gatekeeper-ca.crt") : nil, minimumVersion: minimum))
    }

    func get(_ port: UInt16, _ tls: HTTPClientTLSOptions) async throws -> HTTPClientResponse {
        try await offPool { try CurlSession(tls: tls).perform(HTTPClientRequest(url: "https://localhost:\(port)/x"), timeout: .seconds(10)) }
    }

    /// A fresh PKI whose `server` pair is also laid out as Ratify's cert dir (`tls.crt`, `tls.key`).
    static func certificateDirectory() throws -> (TestPKI, String) {
        let pki = try TestPKI()
        try pki.makeCA("server-ca")
        try pki.issue("server", by: "server-ca", purpose: .server)
        let dir = pki.path("certdir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: pki.path("server.crt"), toPath: dir + "/tls.crt")
        try FileManager.default.copyItem(atPath: pki.path("server.key"), toPath: dir + "/tls.key")
        return (pki, dir)
    }

    /// OpenSSL reads ahead (a whole record and what follows it in one read): requests whose
    /// records arrive together, and one that arrives while the first is being handled, are all
    /// answered in order; none waits in OpenSSL's buffer for a socket event that never comes.
    @Test(arguments: LoopMode.allCases) func pipelinedTLSRecordsAreAllAnswered(mode: LoopMode) async throws {
        let server = try startServer(tls: serverTLS(), mode: mode)
        let client = try RawClient(port: server.port, tlsCAFile: pki.path("server-ca.crt"), receiveTimeout: 30)
        try client.send("GET /sleep/300 HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n")
        try client.send("POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
        try await Task.sleep(for: .milliseconds(100))
        try client.send("GET /c HTTP/1.1\r\n\r\n")
        let responses = try await offPool { client.receiveResponses(4) }
        #expect(responses.map { $0.components(separatedBy: "\r\n\r\n").last! } == ["GET /sleep/300 0", "GET /a 0", "POST /b 2", "GET /c 0"])
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func servesTLS12AndTLS13() async throws {
        let server = try startServer(tls: serverTLS())
        for version in [HTTPClientTLSOptions.Version.tls1_2, .tls1_3] {
            var options = HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"))
            options.exactVersion = version
            #expect(try await get(server.port, options).status == 200)
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: [HTTPClientTLSOptions.Version.tls1_0, .tls1_1])
    func refusesOldProtocolVersions(_ version: HTTPClientTLSOptions.Version) async throws {
        var old = HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"))
        old.exactVersion = version
        old.cipherList = "DEFAULT@SECLEVEL=0"
        // Control: the same client completes a handshake with a server that allows the version,
        // so a refusal below is the default server's doing, not the client's.
        let permissive = try startServer(tls: serverTLS(minimum: .tls1_0))
        #expect(try await get(permissive.port, old).status == 200)
        await permissive.shutdown(gracePeriod: .seconds(1))

        let server = try startServer(tls: serverTLS())
        await #expect(throws: HTTPClientError.self) { try await get(server.port, old) }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func mutualTLSAcceptsOnlyClientsSignedByTheClientCA() async throws {
        let server = try startServer(tls: serverTLS(clientCA: true))
        let trusted = HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"), clientCertificateFile: pki.path("gatekeeper.crt"),
                                           clientKeyFile: pki.path("gatekeeper.key"))
        #expect(try await get(server.port, trusted).status == 200)

        let anonymous = HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"))
        await #expect(throws: HTTPClientError.self) { try await get(server.port, anonymous) }

        let rogue = HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"), clientCertificateFile: pki.path("rogue.crt"),
                                         clientKeyFile: pki.path("rogue.key"))
        await #expect(throws: HTTPClientError.self) { try await get(server.port, rogue) }
        // Refused handshakes leave the server serving.
        #expect(try await get(server.port, trusted).status == 200)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Rotating the client CA file (Gatekeeper's CA renewed): after the reload, clients of the
    /// new CA are accepted and those of the old one refused, without a restart.
    @Test func aRotatedClientCAIsEnforcedAfterReload() async throws {
        let (rotating, _) = try await offPool { try Self.certificateDirectory() }
        let caFile = rotating.path("client-ca-in-use.crt")
        try FileManager.default.copyItem(atPath: pki.path("gatekeeper-ca.crt"), toPath: caFile)
        let tls = try ReloadingTLSContext(configuration: TLSServerConfiguration(
            certificateChainFile: rotating.path("server.crt"), privateKeyFile: rotating.path("server.key"), clientCAFile: caFile))
        let server = try startServer(tls: tls)
        let old = HTTPClientTLSOptions(caFile: rotating.path("server-ca.crt"), clientCertificateFile: pki.path("gatekeeper.crt"), clientKeyFile: pki.path("gatekeeper.key"))
        let new = HTTPClientTLSOptions(caFile: rotating.path("server-ca.crt"), clientCertificateFile: pki.path("rogue.crt"), clientKeyFile: pki.path("rogue.key"))
        #expect(try await get(server.port, old).status == 200)
        await #expect(throws: HTTPClientError.self) { try await get(server.port, new) }
        try Data(contentsOf: URL(fileURLWithPath: pki.path("rogue-ca.crt"))).write(to: URL(fileURLWithPath: caFile), options: .atomic)
        #expect(tls.reloadIfChanged(), "a new client CA is a change")
        #expect(try await get(server.port, new).status == 200)
        await #expect(throws: HTTPClientError.self) { try await get(server.port, old) }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func rejectsMismatchedKeyAndMissingFilesWithClearErrors() throws {
        let pki = try TestPKI()
        try pki.makeCA("server-ca")
        try pki.issue("server", by: "server-ca", purpose: .server)
        try pki.issue("other", by: "server-ca", purpose: .server)
        do {
            _ = try TLSContext(server: TLSServerConfiguration(certificateChainFile: pki.path("server.crt"), privateKeyFile: pki.path("other.key")))
            Issue.record("a key that does not match must be refused")
        } catch {
            #expect(error.code == .keyMismatch)
            #expect(error.message.contains("other.key"))
        }
        do {
            _ = try TLSContext(server: TLSServerConfiguration(certificateChainFile: pki.path("missing.crt"), privateKeyFile: pki.path("server.key")))
            Issue.record("a missing file must be refused")
        } catch {
            #expect(error.code == .certificateLoad)
            #expect(error.message.contains("missing.crt"))
        }
        try "not a pem".write(toFile: pki.path("garbage.crt"), atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) {
            _ = try TLSContext(server: TLSServerConfiguration(certificateChainFile: pki.path("garbage.crt"), privateKeyFile: pki.path("server.key")))
        }
    }

    @Test func rotatesCertificateWithoutDroppingRequests() async throws {
        // Serve from a cert directory the way Kubernetes mounts a secret.
        let (pki, dir) = try await offPool { try Self.certificateDirectory() }
        try pki.makeCA("next-ca")
        try pki.issue("next", by: "next-ca", purpose: .server)

        let events = Mutex<[String]>([])
        let tls = try ReloadingTLSContext(configuration: .certificateDirectory(dir)) { event in
            events.withLock { $0.append("\(event)") }
        }
        tls.startWatching(interval: .milliseconds(50))
        let server = try startServer(tls: tls)
        let port = server.port
        let bothCAs = try pki.bundle("both.crt", of: [pki.path("server-ca.crt"), pki.path("next-ca.crt")])

        // A keep-alive client and a fresh-connection client request continuously across the rotation.
        let failures = Atomic<Int>(0), successes = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let keepAlive = CurlSession(tls: HTTPClientTLSOptions(caFile: bothCAs))
        let stream = Task {
            try await offPool {
                let fresh = CurlSession(tls: HTTPClientTLSOptions(caFile: bothCAs))
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    i += 1
                    do {
                        let session = i % 2 == 0 ? keepAlive : fresh
                        let r = try session.perform(HTTPClientRequest(url: "https://localhost:\(port)/s"), freshConnection: session === fresh)
                        if r.status == 200 { successes.add(1, ordering: .relaxed) } else { failures.add(1, ordering: .relaxed) }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        // Before rotation a client that trusts only the next CA is refused.
        let nextOnly = HTTPClientTLSOptions(caFile: pki.path("next-ca.crt"))
        await #expect(throws: HTTPClientError.self) { try await get(port, nextOnly) }

        // Kubernetes-style: write new files next to the old ones and rename over them.
        try FileManager.default.copyItem(atPath: pki.path("next.crt"), toPath: dir + "/tls.crt.new")
        try FileManager.default.copyItem(atPath: pki.path("next.key"), toPath: dir + "/tls.key.new")
        rename(dir + "/tls.key.new", dir + "/tls.key")
        rename(dir + "/tls.crt.new", dir + "/tls.crt")

        var rotated = false
        for _ in 0..<60 where !rotated {
            try await Task.sleep(for: .milliseconds(50))
            rotated = (try? await get(port, nextOnly))?.status == 200
        }
        try await Task.sleep(for: .milliseconds(300))
        stop.store(true, ordering: .relaxed)
        try await stream.value
        #expect(rotated, "the new certificate is served without a restart")
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(successes.load(ordering: .relaxed) >= 5, "requests kept flowing across the rotation")
        #expect(events.withLock { $0 }.contains("reloaded"))
        tls.stopWatching()
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func brokenRotationKeepsServingThePreviousCertificate() async throws {
        let (pki, dir) = try await offPool { try Self.certificateDirectory() }
        let failuresSeen = Mutex<[TLSError]>([])
        let tls = try ReloadingTLSContext(configuration: .certificateDirectory(dir)) { event in
            if case .reloadFailed(let error) = event { failuresSeen.withLock { $0.append(error) } }
        }
        let server = try startServer(tls: tls)
        // Only the certificate changed (the key is from the old pair): the new pair does not load.
        try pki.issue("half", by: "server-ca", purpose: .server)
        try Data(contentsOf: URL(fileURLWithPath: pki.path("half.crt"))).write(to: URL(fileURLWithPath: dir + "/tls.crt"))
        #expect(tls.reloadIfChanged() == false)
        #expect(failuresSeen.withLock { $0.map(\.code) } == [.keyMismatch])
        #expect(try await get(server.port, HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"))).status == 200)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func holds256ConcurrentKeepAliveTLSConnections() async throws {
        let server = try startServer(tls: serverTLS())
        let caFile = pki.path("server-ca.crt")
        let port = server.port
        let clients = try await offPool { try (0..<256).map { _ in try RawClient(port: port, tlsCAFile: caFile) } }
        for (i, client) in clients.enumerated() { try client.send("GET /c/\(i) HTTP/1.1\r\nHost: x\r\n\r\n") }
        let answers = try await offPool { clients.map { $0.receiveResponses(1).first ?? "" } }
        #expect(answers.enumerated().allSatisfy { $0.element.hasSuffix("GET /c/\($0.offset) 0") })
        #expect(server.openConnections == 256)
        // All still usable: a second round on the same connections.
        for client in clients { try client.send("GET /again HTTP/1.1\r\n\r\n") }
        let second = try await offPool { clients.map { $0.receiveResponses(1).first ?? "" } }
        #expect(second.allSatisfy { $0.hasSuffix("GET /again 0") })
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
