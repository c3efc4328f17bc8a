import Synchronization

/// Results of pure, repeated OpenSSL work, keyed by a SHA-256 of their input. Bounded: cleared
/// when full (the working set — a few signers' chains — is far smaller than the bound).
final class DigestCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[[UInt8]: Value]>([:])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: [UInt8]) -> Value? { entries.withLock { $0[key] } }

    func put(_ key: [UInt8], _ value: Value) {
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = value
        }
    }
}

/// Parsed certificates by their DER: signatures from one signer repeat the same chain, and
/// OpenSSL 3's `d2i_X509` costs ~0.2 ms per certificate.
let parsedCertificates = DigestCache<Certificate>(capacity: 1024)
/// Certificate/issuer pairs whose signature verified (a P-384 root verifying itself costs ~0.9 ms).
let verifiedIssuance = DigestCache<Void>(capacity: 4096)
