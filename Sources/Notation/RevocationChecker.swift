import Core
import HTTPClient
import Crypto
import Foundation

/// Revocation of a signing chain as the Notary Project asks for it (trust-store-trust-policy.md,
/// "Certificate Revocation Evaluation"): every certificate but the root is checked, OCSP first
/// and the CRL when OCSP cannot answer; a certificate that names neither is not revocable.
/// Revoked is a failure; "cannot tell" is `REVOCATION_UNAVAILABLE`, which the policy's
/// revocation action turns into a failure (enforce) or a log line.
public struct X509RevocationChecker: RevocationChecking {
    public let fetcher: any HTTPFetching
    public var ocspTimeout: Duration
    public var crlTimeout: Duration
    /// Downloaded CRLs by URL, kept until their nextUpdate (at most a day).
    let crls = TTLCache<[UInt8]>(ttl: .seconds(86_400), maxEntries: 256)
    /// Ratify's `crl.cache.enabled`: false downloads the CRL for every verification.
    public let cacheCRLs: Bool

    /// Ratify's defaults: 2 s per OCSP request, 5 s per CRL download.
    public init(fetcher: any HTTPFetching, ocspTimeout: Duration = .seconds(2), crlTimeout: Duration = .seconds(5), cacheCRLs: Bool = true) {
        self.fetcher = fetcher
        self.cacheCRLs = cacheCRLs
        self.ocspTimeout = ocspTimeout
        self.crlTimeout = crlTimeout
    }

    public func problem(chain: [Certificate], deadline: ContinuousClock.Instant) async -> (NotationReason, String)? {
        guard chain.count > 1 else { return nil }  // a lone root is not checked
        let anchors = Array(chain.dropFirst())
        for index in 0..<(chain.count - 1) {
            let certificate = chain[index], issuer = chain[index + 1]
            let ocspURLs = certificate.ocspURLs, crlURLs = certificate.crlURLs
            if ocspURLs.isEmpty && crlURLs.isEmpty { continue }
            var reasons: [String] = []
            var decided = false
            for url in ocspURLs where !decided {
                switch await ocsp(url, certificate: certificate, issuer: issuer, anchors: anchors, deadline: deadline) {
                case .good: decided = true
                case .revoked(let date): return revoked(certificate, date, source: "OCSP responder \(url)")
                case .unknown(let reason): reasons.append("OCSP \(url): \(reason)")
                }
            }
            for url in crlURLs where !decided {
                switch await crl(url, certificate: certificate, issuer: issuer, deadline: deadline) {
                case .good: decided = true
                case .revoked(let date): return revoked(certificate, date, source: "CRL \(url)")
                case .unknown(let reason): reasons.append("CRL \(url): \(reason)")
                }
            }
            if !decided {
                return (.revocationUnavailable, "the revocation status of certificate \"\(certificate.subject)\" (serial \(certificate.serialNumber)) cannot be determined: \(reasons.joined(separator: "; "))")
            }
        }
        return nil
    }

    func revoked(_ certificate: Certificate, _ date: Date?, source: String) -> (NotationReason, String) {
        (.certificateRevoked, "certificate \"\(certificate.subject)\" (serial \(certificate.serialNumber)) is revoked\(date.map { " since \(NotationVerification.timestamp($0))" } ?? "") according to the \(source)")
    }

    func budget(_ limit: Duration, _ deadline: ContinuousClock.Instant) -> Duration? {
        let left = deadline - .now
        guard left > .milliseconds(1) else { return nil }
        return min(limit, left)
    }

    func ocsp(_ url: String, certificate: Certificate, issuer: Certificate, anchors: [Certificate],
              deadline: ContinuousClock.Instant) async -> RevocationStatus {
        guard let request = OCSP.request(for: certificate, issuer: issuer) else { return .unknown("cannot build the request") }
        guard let timeout = budget(ocspTimeout, deadline) else { return .unknown("no time left before the verification deadline") }
        do {
            let response = try await fetcher.fetch(url, body: request, contentType: "application/ocsp-request", timeout: timeout, maxBytes: 64 * 1024)
            return OCSP.status(response: response, certificate: certificate, issuer: issuer, anchors: anchors)
        } catch {
            return .unknown("\(error)")
        }
    }

    func crl(_ url: String, certificate: Certificate, issuer: Certificate, deadline: ContinuousClock.Instant) async -> RevocationStatus {
        let bytes: [UInt8]
        if cacheCRLs, let cached = crls.get(url) {
            bytes = cached
        } else {
            guard let timeout = budget(crlTimeout, deadline) else { return .unknown("no time left before the verification deadline") }
            do {
                bytes = try await fetcher.fetch(url, body: nil, contentType: nil, timeout: timeout, maxBytes: 32 * 1024 * 1024)
            } catch {
                return .unknown("\(error)")
            }
        }
        let status = CRL.status(crl: bytes, certificate: certificate, issuer: issuer)
        // Only a CRL that verified is worth keeping, and only until its nextUpdate.
        if case .unknown = status {
            crls.remove(url)
        } else if cacheCRLs, let next = CRL.nextUpdate(bytes), next > Date() {
            crls.put(url, bytes, ttl: min(crls.ttl, .seconds(next.timeIntervalSinceNow)))
        }
        return status
    }
}
