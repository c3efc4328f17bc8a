@testable import Cosign
import Crypto
import Foundation
import Testing
import TestSupport

/// Which subject alternative names a keyless identity is matched against: sigstore's
/// GetSubjectAlternateNames (DNS, email, IP, URI and Fulcio's username otherName only).
@Suite struct KeylessIdentityNameTests {
    func selfSigned(_ subjectAltName: String) throws -> Certificate {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyless-san-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = try ProcessRunner.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", directory.appendingPathComponent("k.pem").path, "-out", directory.appendingPathComponent("c.pem").path, "-days", "1",
            "-subj", "/CN=keyless", "-addext", "subjectAltName=\(subjectAltName)", "-addext", "extendedKeyUsage=codeSigning",
            "-addext", "1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:https://issuer.example"])
        #expect(made.status == 0, "\(made.output)")
        return try Certificate.pemChain(Array(try Data(contentsOf: directory.appendingPathComponent("c.pem"))), source: "c")[0]
    }

    func problem(_ certificate: Certificate, identity: String) -> String? {
        let policy = KeylessPolicy(identity: .exact(identity), issuer: .exact("https://issuer.example"), ctLogVerify: false,
                                   trust: TrustedRoot(roots: [certificate]))
        switch CosignVerifier.keylessProblem(certificate, supplied: [], keyless: policy, at: Date(), timeSource: "") {
        case .success: return nil
        case .failure(let message): return message.text
        }
    }

    @Test func fulciosUsernameOtherNameIsAnIdentityAndOthersAreNot() throws {
        #expect(problem(try selfSigned("otherName:1.3.6.1.4.1.57264.1.7;UTF8:alice"), identity: "alice") == nil)
        let other = problem(try selfSigned("otherName:1.2.3.4;UTF8:alice"), identity: "alice")
        #expect(other?.contains("do not match certificateIdentity") == true, "\(other ?? "passed")")
    }

    @Test func ipAddressesAreIdentities() throws {
        #expect(problem(try selfSigned("IP:10.1.2.3"), identity: "10.1.2.3") == nil)
    }
}
