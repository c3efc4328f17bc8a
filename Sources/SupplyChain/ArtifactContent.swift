import Core
import JSON

/// A referrer's manifest and layer bytes, fetched for a verifier; a fetch failure is a failing
/// report (never a pass), with Ratify's messages.
struct ArtifactContent {
    let manifest: Manifest
    let layers: [(descriptor: Descriptor, bytes: [UInt8])]

    enum Failure: Error {
        case manifest(String)
        case blob(Descriptor, String)
    }

    /// `firstOnly`: the sbom and vulnerabilityreport verifiers read the first layer only, as Ratify's do.
    static func fetch(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore, firstOnly: Bool,
                      deadline: ContinuousClock.Instant) async -> Result<ArtifactContent, Failure> {
        let manifest: Manifest
        do {
            (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
        } catch {
            return .failure(.manifest("\(error)"))
        }
        var layers: [(Descriptor, [UInt8])] = []
        for layer in firstOnly ? Array(manifest.layers.prefix(1)) : manifest.layers {
            do {
                layers.append((layer, try await store.blob(layer, in: subject, deadline: deadline)))
            } catch {
                return .failure(.blob(layer, "\(error)"))
            }
        }
        return .success(ArtifactContent(manifest: manifest, layers: layers))
    }
}

/// The four supply-chain verifiers: their Verifier identity comes from their common settings,
/// and each begins by fetching the referrer's content.
public protocol SupplyChainVerifying: Verifier {
    var common: CommonSettings { get }
}

extension SupplyChainVerifying {
    public var name: String { common.name }
    public var type: String { common.type }
    public var artifactTypes: [String] { common.artifactTypes }
    public var nestedReferences: [String] { common.nestedReferences }

    /// This verifier's reporter and the referrer's content, or the failing report of the fetch.
    func fetch(_ subject: ImageReference, _ referrer: Descriptor, store: any ReferrerStore, firstOnly: Bool,
               deadline: ContinuousClock.Instant) async -> Result<(Reporter, ArtifactContent), FetchFailed> {
        let reporter = Reporter(subject: subject, referrer: referrer, name: name, type: type)
        switch await ArtifactContent.fetch(subject: subject, referrer: referrer, store: store, firstOnly: firstOnly, deadline: deadline) {
        case .failure(let failure): return .failure(FetchFailed(report: reporter.fetchFailure(failure)))
        case .success(let content): return .success((reporter, content))
        }
    }
}

/// A fetch that failed, as the verifier's failing report.
struct FetchFailed: Error {
    let report: VerifierReport
}

/// Builds one verifier's reports on one referrer.
struct Reporter {
    let subject: ImageReference
    let referrer: Descriptor
    let name: String
    let type: String

    func pass(_ message: String, extensions: JSONValue? = nil) -> VerifierReport {
        VerifierReport(subject: subject.description, isSuccess: true, verifierName: name, verifierType: type,
                       referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                       message: message, extensions: extensions)
    }

    func fail(_ reason: String, _ message: String, _ remediation: String, extensions: JSONValue? = nil) -> VerifierReport {
        VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                       referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                       message: message, errorReason: reason, remediation: remediation, extensions: extensions)
    }

    /// A fetch failure, as Ratify's plugins word it.
    func fetchFailure(_ failure: ArtifactContent.Failure, extensions: JSONValue? = nil) -> VerifierReport {
        switch failure {
        case .manifest(let error):
            fail("GET_REFERRER_MANIFEST_FAILURE", "Failed to fetch reference manifest for subject: \(subject) reference descriptor: \(referrer.digest)",
                 "the registry did not return the artifact's manifest (\(error)); check that the artifact exists and the store can read it",
                 extensions: extensions)
        case .blob(let layer, let error):
            fail("GET_BLOB_CONTENT_FAILURE", "Failed to fetch blob for subject: \(subject) digest: \(layer.digest)",
                 "the registry did not return the artifact's content (\(error)); check the blob exists and is within the store's maxBlobBytes",
                 extensions: extensions)
        }
    }
}
