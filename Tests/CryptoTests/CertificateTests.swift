import Crypto
import Foundation
import Testing
import TestSupport

/// Certificates made with the OpenSSL CLI: root → intermediate → code-signing leaf, plus an
/// unrelated root.
final class SigningPKI: @unchecked Sendable {
    let pki: TestPKI
    init() throws {
        pki = try TestPKI()
        try pki.makeCA("root")
        try pki.issue("intermediate", by: "root", purpose: .intermediateCA)
        try pki.issue("leaf", by: "intermediate", purpose: .codeSigning,
                      subject: "/C=US/ST=WA/L=Seattle/O=wabbit-networks.io/OU=Finance/CN=SecureBuilder", days: 1)
        try pki.issue("tls", by: "root", purpose: .server)
        try pki.makeCA("rogue")
    }

    func load(_ name: String) throws -> Certificate {
        try Certificate.pemChain(Array(try Data(contentsOf: URL(fileURLWithPath: pki.path("\(name).crt")))), source: name)[0]
    }

    static let shared = Task { try await offPool { try SigningPKI() } }
}

@Suite struct CertificateTests {
    @Test func readsNamesValidityAndUsages() async throws {
        let pki = try await SigningPKI.shared.value
        let leaf = try pki.load("leaf")
        #expect(leaf.subject == "C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Finance, CN=SecureBuilder")
        #expect(leaf.issuer == "CN=intermediate")
        #expect(!leaf.isCA && leaf.allowsDigitalSignature && leaf.allowsCodeSigning)
        #expect(leaf.notAfter.timeIntervalSince(leaf.notBefore) == 86_400)
        #expect(try pki.load("intermediate").isCA)
        #expect(try pki.load("tls").allowsCodeSigning == false, "serverAuth only: not for code signing")
        #expect(try leaf.publicKey().kind == .ecdsa(curve: "prime256v1"))
        #expect(try Certificate.der(leaf.derBytes, source: "der").subject == leaf.subject)
        #expect(throws: CryptoError.self) { try Certificate.pemChain(Array("junk".utf8), source: "junk") }
    }

    @Test func chainsVerifyToTheirRootAtAGivenTime() async throws {
        let pki = try await SigningPKI.shared.value
        let leaf = try pki.load("leaf"), intermediate = try pki.load("intermediate")
        let root = try pki.load("root"), rogue = try pki.load("rogue")
        let now = Date()
        #expect((try? CertificateChain.verify(leaf: leaf, intermediates: [intermediate], roots: [root], at: now).get()) != nil)
        func failure(_ result: Result<Void, ChainError>) -> ChainError? {
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(failure(CertificateChain.verify(leaf: leaf, intermediates: [intermediate], roots: [rogue], at: now))?
            .message.contains("unable to get") == true)
        #expect(failure(CertificateChain.verify(leaf: leaf, intermediates: [], roots: [root], at: now)) != nil, "the intermediate is needed")
        #expect(failure(CertificateChain.verify(leaf: leaf, intermediates: [intermediate], roots: [root], at: now + 3 * 86_400))?
            .message.contains("expired") == true)
        #expect(failure(CertificateChain.verify(leaf: leaf, intermediates: [intermediate], roots: [root], at: now - 3 * 86_400))?
            .message.contains("not yet valid") == true)
    }

    /// sigstore's GetSubjectAlternateNames lists IP addresses as Go prints them.
    @Test func ipAddressAlternativeNamesArePrintedAsGoPrintsThem() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ip-san-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = try ProcessRunner.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", directory.appendingPathComponent("k.pem").path, "-out", directory.appendingPathComponent("c.pem").path, "-days", "1",
            "-subj", "/CN=ip", "-addext", "subjectAltName=IP:10.1.2.3,IP:2001:db8::1,email:a@example.com"])
        #expect(made.status == 0, "\(made.output)")
        let certificate = try Certificate.pemChain(Array(try Data(contentsOf: directory.appendingPathComponent("c.pem"))), source: "c")[0]
        #expect(certificate.alternativeNames == [.ip("10.1.2.3"), .ip("2001:db8::1"), .email("a@example.com")])
    }

    /// Go's root pools anchor trust in any certificate they hold: a private PKI (or a sigstore
    /// trusted root) may name an intermediate as its root.
    @Test func anIntermediateCanBeTheTrustAnchor() async throws {
        let pki = try await SigningPKI.shared.value
        let leaf = try pki.load("leaf"), intermediate = try pki.load("intermediate"), rogue = try pki.load("rogue")
        #expect(throws: Never.self) { try CertificateChain.verify(leaf: leaf, intermediates: [], roots: [intermediate], at: Date()).get() }
        #expect(throws: ChainError.self) { try CertificateChain.verify(leaf: leaf, intermediates: [], roots: [rogue], at: Date()).get() }
    }
}
