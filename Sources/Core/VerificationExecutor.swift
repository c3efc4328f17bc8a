import Foundation
import JSON
import Synchronization

/// Ratify's multi-tenant key: `[namespace]image` (regex `(\[(.*?)\])?(.*)`).
public struct ProviderKey: Equatable, Sendable {
    public var namespace: String?
    public var image: String

    public init(_ key: String) {
        if key.hasPrefix("["), let close = key.firstIndex(of: "]") {
            let inside = key[key.index(after: key.startIndex)..<close]
            namespace = inside.isEmpty ? nil : String(inside)
            image = String(key[key.index(after: close)...])
        } else {
            namespace = nil
            image = key
        }
    }
}

/// The outcome for one subject: the policy's verdict over the verifier reports.
public struct VerificationResult: Sendable, Equatable {
    public var subject: String
    public var isSuccess: Bool
    public var reports: [VerifierReport]

    public init(subject: String, isSuccess: Bool, reports: [VerifierReport]) {
        self.subject = subject
        self.isSuccess = isSuccess
        self.reports = reports
    }

    /// Ratify v1.4's verification response, the item `value` Gatekeeper's rego reads.
    public func json(version: String, traceID: String, timestamp: String) -> JSONValue {
        let verifierReports: JSONValue = version == "1.1.0" ? .array(NestedReports.group(reports)) : .array(reports.map { $0.json() })
        return ["version": .string(version), "isSuccess": .bool(isSuccess), "traceID": .string(traceID),
                "timestamp": .string(timestamp), "verifierReports": verifierReports]
    }
}

/// Ratify's result version 1.1.0 (its rego mode): one entry per referrer — `subject`,
/// `referenceDigest`, `artifactType`, the `verifierReports` of the verifiers that checked it and
/// the `nestedReports` of what is attached to it — built from our reports (grouped by referrer;
/// nested ones from their `nestedResults`). Also the `input` a rego policy reads.
public enum NestedReports {
    /// The verifier type of the placeholder for a referrer no verifier handles (rego mode only):
    /// it is listed with an empty `verifierReports`, as Ratify lists it.
    public static let unverifiedType = "__unverified"

    public static func group(_ reports: [VerifierReport]) -> [JSONValue] {
        var order: [String] = []
        var groups: [String: [VerifierReport]] = [:]
        for report in reports {
            let key = (report.referenceDigest ?? "") + "|" + report.subject
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(report)
        }
        return order.map { key in
            let members = groups[key]!
            let first = members[0]
            var entry = JSONObject()
            entry["subject"] = .string(first.subject)
            entry["referenceDigest"] = .string(first.referenceDigest ?? "")
            entry["artifactType"] = .string(first.artifactType ?? "")
            entry["verifierReports"] = .array(members.filter { $0.verifierType != unverifiedType }.map(result))
            entry["nestedReports"] = .array(group(members.first { !$0.nestedResults.isEmpty }?.nestedResults ?? []))
            return .object(entry)
        }
    }

    /// `types.VerifierResult`: message, name and extensions always present (null when unset).
    static func result(_ report: VerifierReport) -> JSONValue {
        var object = JSONObject()
        object["isSuccess"] = .bool(report.isSuccess)
        object["message"] = .string(report.message)
        if let errorReason = report.errorReason { object["errorReason"] = .string(errorReason) }
        if let remediation = report.remediation { object["remediation"] = .string(remediation) }
        object["name"] = .string(report.verifierName)
        object["verifierName"] = .string(report.verifierName)
        object["type"] = .string(report.verifierType)
        object["verifierType"] = .string(report.verifierType)
        object["extensions"] = report.extensions ?? .null
        return .object(object)
    }
}

extension VerificationResult {
    /// About what a cached result holds in memory (reports, their texts, nested ones).
    public var estimatedBytes: Int {
        func size(_ report: VerifierReport) -> Int {
            256 + report.message.utf8.count + (report.remediation?.utf8.count ?? 0) + report.subject.utf8.count
                + (report.extensions?.estimatedBytes ?? 0) + report.nestedResults.reduce(0) { $0 + size($1) }
        }
        return 128 + subject.utf8.count + reports.reduce(0) { $0 + size($1) }
    }

    /// Whether `reports` make a pass under `policy`: the policy over them, or for a multi-platform
    /// verdict, every verified platform's own reports.
    static func reportsSupportSuccess(_ reports: [VerifierReport], policy: any PolicyEngine) -> Bool {
        if !reports.isEmpty, reports.allSatisfy({ $0.verifierType == VerificationExecutor.platformReportType }) {
            let verified = reports.filter { $0.extensions?["skipped"] != .bool(true) }
            return !verified.isEmpty && verified.allSatisfy { $0.isSuccess && policy.isSuccess($0.nestedResults) }
        }
        return policy.isSuccess(reports)
    }

    /// What the shared cache holds for a verdict.
    public func sharedEncoding() -> [UInt8] {
        Array(JSONWriter.encodeString(["subject": .string(subject), "isSuccess": .bool(isSuccess),
                                        "verifierReports": .array(reports.map { $0.json() })]).utf8)
    }

    /// The inverse of `sharedEncoding()`; nil for anything else. The verdict must agree with
    /// `policy` over its own reports: an entry whose `isSuccess` the reports do not support
    /// is refused, whoever wrote it.
    public init?(sharedEncoding bytes: [UInt8], policy: any PolicyEngine) {
        guard let document = try? JSONParser.parse(bytes), let subject = document["subject"]?.stringValue,
              let isSuccess = document["isSuccess"]?.boolValue, let list = document["verifierReports"]?.arrayValue else { return nil }
        var reports: [VerifierReport] = []
        for item in list {
            guard let report = VerifierReport(json: item) else { return nil }
            reports.append(report)
        }
        guard !isSuccess || Self.reportsSupportSuccess(reports, policy: policy) else { return nil }
        self.init(subject: subject, isSuccess: isSuccess, reports: reports)
    }
}

/// Why a key could not be verified at all (as opposed to verifying and failing). It becomes the
/// item's `error`, formatted Ratify's way: `CODE: detail: remediation`.
public struct VerificationError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidSubject = "INVALID_SUBJECT_REFERENCE"
        case resolveFailed = "GET_SUBJECT_DESCRIPTOR_FAILURE"
        case referrersFailed = "LIST_REFERRERS_FAILURE"
        case timeout = "VERIFY_TIMEOUT"
    }

    public let code: Code
    public let detail: String
    public let remediation: String

    public var description: String { "\(code.rawValue): \(detail): \(remediation)" }
}

/// Turns subjects into verdicts: resolve, list referrers, verify each with the verifiers for its
/// artifact type (and, for verifiers with `nestedReferences`, the referrer's own referrers), then
/// let the policy decide. Keys run concurrently up to `maxConcurrency`; the same subject asked
/// for twice — in one request or in concurrent ones — is verified once; results are cached per
/// (subject digest, configuration generation).
public final class VerificationExecutor: ProviderExecutor {
    public struct Options: Sendable {
        /// Keys verified at once per request. The work is registry round trips, not CPU, so
        /// this is larger than the core count.
        public var maxConcurrency = 32
        /// Ratify caches successful results for 10 s; failures are kept shorter so a fix shows fast.
        public var successTTL: Duration = .seconds(10)
        public var failureTTL: Duration = .seconds(2)
        public var cacheEnabled = true
        /// Results kept at most (Ratify's `--cache-size` in MB, at ~4 KiB a result)...
        public var maxCachedResults = 10_000
        /// ...and their estimated bytes at most (`--cache-size` itself).
        public var maxCachedBytes = 64 * 1024 * 1024
        /// Answer this long before the request deadline, so per-key timeouts arrive as item
        /// errors rather than the whole request failing.
        public var deadlineMargin: Duration = .milliseconds(50)
        public var maxNestingDepth = 3
        /// Under an `any` rule, stop verifying an artifact type once one report of it passed.
        public var stopWhenSettled = true
        /// Where verifications (the work shared by identical keys, not the lookup of a cached
        /// answer) prefer to run: the registry transport's I/O thread, so that registry answers
        /// resume them without a thread hop (nil: Swift's cooperative pool).
        public var taskExecutor: (any TaskExecutor)?
        /// Whether `taskExecutor` has other work waiting (transfers in flight, queued jobs). A
        /// verifier's own work (parsing, chains, signatures) then moves to the cooperative pool
        /// so that the I/O thread keeps moving the rest; when it has none, the work stays there.
        /// The argument: how many unanswered transfers are the caller's own (a check started
        /// while its sibling request is still on its way does not count that one).
        public var taskExecutorIsBusy: @Sendable (_ besidesOwnTransfers: Int) -> Bool = { _ in true }
        /// Bumped by every configuration change; cached results of older generations never match.
        public var generation: UInt64 = 1
        /// The configuration's fingerprint in shared-cache keys: the same on every replica with
        /// the same configuration (generations are per process).
        public var sharedConfiguration = ""
        public init() {}
    }

    /// One line per fresh verification: `verify result for subject <ref@digest>: <json>`.
    /// `value` is built only if the observer reads it (the log line may be disabled).
    public typealias ResultObserver = @Sendable (_ subject: String, _ value: () -> JSONValue, _ requestID: String) -> Void

    public let store: any ReferrerStore
    public let verifiers: [any Verifier]
    public let policy: any PolicyEngine
    public let options: Options
    /// Verdicts shared with other replicas (Redis); nil: this process only.
    public let shared: (any SharedCache)?
    private let observe: ResultObserver
    /// The artifact types some verifier handles, nil when one takes every type: the store may
    /// skip lookups that could only find artifacts nobody verifies.
    private let verifiableTypes: Set<String>?
    private let results: TTLCache<VerificationResult>
    private let inFlight = Coalescer<VerificationResult, VerificationError>(wrap: {
        VerificationError(code: .timeout, detail: "verification was interrupted: \($0)", remediation: "retry the request")
    })

    public init(store: any ReferrerStore, verifiers: [any Verifier], policy: any PolicyEngine, options: Options = Options(),
                shared: (any SharedCache)? = nil, observe: @escaping ResultObserver = { _, _, _ in }) {
        self.shared = shared
        self.store = store
        self.verifiers = verifiers
        self.policy = policy
        self.options = options
        self.observe = observe
        verifiableTypes = verifiers.contains { $0.artifactTypes.contains("*") } ? nil : Set(verifiers.flatMap(\.artifactTypes))
        results = TTLCache(ttl: options.successTTL, maxEntries: max(1, options.maxCachedResults), maxBytes: options.maxCachedBytes,
                           cost: { $0.estimatedBytes })
    }

    /// `execute` races its keys against `context.deadline` (less the margin) and answers the
    /// keys still running with a timeout naming their stage.
    public func answersByDeadline(_ operation: ProviderOperation) -> Bool { operation == .verify }

    /// The transport's I/O thread while it has nothing else to do: a request then starts and
    /// ends there with no pool thread woken (a cold image's hops cost more than its checks).
    /// While it is busy, requests start on the pool, so that requests answered from the caches
    /// are not queued behind registry work and spread over the cores.
    public func preferredTaskExecutor(_ operation: ProviderOperation) -> (any TaskExecutor)? {
        guard operation == .verify, let preferred = options.taskExecutor, !options.taskExecutorIsBusy(0) else { return nil }
        return preferred
    }

    public func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        // Identical keys in one request are verified once.
        let unique = Array(Set(keys))
        let deadline = context.deadline - options.deadlineMargin
        let started = ContinuousClock.now
        var byKey: [String: ProviderItem] = [:]
        // Each key is parsed once. Verdicts already cached are answered here, with no task and no
        // thread hop; so are keys that are not image references.
        var pending: [(key: String, reference: ImageReference)] = []
        for key in unique {
            switch lookup(key, requestID: context.requestID) {
            case .cached(let answer), .invalid(let answer): byKey[key] = answer
            case .pending(let reference): pending.append((key, reference))
            }
        }
        guard !pending.isEmpty else { return keys.map { byKey[$0]! } }
        let stages = pending.map { _ in StageTracker() }
        let answers = Mutex<[String: ProviderItem]>([:])
        let work = pending
        // The rest needs the registry. It runs where registry answers arrive (the transport's I/O
        // thread, when there is one), and so does this request once it has its answers: neither
        // the work starting nor the request resuming wakes a pool thread.
        // One timer for the whole request: keys still running when it fires are answered with a
        // timeout naming their stage; keys that finished keep their answers.
        await withTaskExecutorPreference(options.taskExecutor) {
            _ = await withDeadline(deadline - .now, executor: self.options.taskExecutor) {
                @Sendable func run(_ index: Int) async {
                    let (key, reference) = work[index]
                    let answer: ProviderItem
                    do throws(VerificationError) {
                        let result = try await self.verify(reference, key: key, deadline: deadline, stage: stages[index],
                                                           requestID: context.requestID)
                        answer = self.item(key, result, requestID: context.requestID)
                    } catch {
                        answer = .failure(key, error.description)
                    }
                    answers.withLock { $0[key] = answer }
                }
                // The common admission shape (one container) needs no task group.
                if work.count == 1 { return await run(0) }
                _ = await boundedMap(Array(work.indices), concurrency: self.options.maxConcurrency, run)
            }
        }
        let elapsed = ContinuousClock.now - started
        let done = answers.withLock { $0 }
        for (index, entry) in pending.enumerated() {
            byKey[entry.key] = done[entry.key] ?? .failure(entry.key, Self.timeoutError(
                key: entry.key, stage: stages[index].current, detail: "after \(elapsed.milliseconds)ms").description)
        }
        return keys.map { byKey[$0]! }
    }

    public func cachedItems(_ keys: [String], context: ProviderContext) -> [ProviderItem]? {
        guard context.operation == .verify else { return nil }
        var items: [ProviderItem] = []
        items.reserveCapacity(keys.count)
        for key in keys {
            guard case .cached(let answer) = lookup(key, requestID: context.requestID) else { return nil }
            items.append(answer)
        }
        return items
    }

    /// What a key needs: nothing (its verdict is cached, or it is not an image reference: its
    /// answer is ready), or verifying its reference.
    private enum Lookup {
        case cached(ProviderItem)
        case invalid(ProviderItem)
        case pending(ImageReference)
    }

    private func lookup(_ key: String, requestID: String) -> Lookup {
        do throws(VerificationError) {
            let reference = try Self.reference(key)
            guard let cached = cachedResult(reference) else { return .pending(reference) }
            return .cached(item(key, cached, requestID: requestID))
        } catch {
            return .invalid(.failure(key, error.description))
        }
    }

    private func item(_ key: String, _ result: VerificationResult, requestID: String) -> ProviderItem {
        ProviderItem(key: key, value: result.json(version: policy.resultVersion, traceID: requestID, timestamp: Self.timestamp()))
    }

    /// The image reference of a Gatekeeper key (`[namespace]image`).
    private static func reference(_ key: String) throws(VerificationError) -> ImageReference {
        let image = ProviderKey(key).image
        do {
            return try ImageReference.parse(image)
        } catch {
            throw VerificationError(code: .invalidSubject, detail: "\(image): \(error)",
                                    remediation: "use a valid image reference such as registry.example.com/team/app:1.0")
        }
    }

    /// The cached verdict for a reference whose digest is known (pinned, or its tag resolved lately).
    private func cachedResult(_ reference: ImageReference) -> VerificationResult? {
        guard options.cacheEnabled, let digest = reference.digest ?? store.cachedDescriptor(reference)?.digest else { return nil }
        return results.get(resultKey(reference, digest))
    }

    /// Verifies one Gatekeeper key (`[namespace]image`); also what `ratify verify` runs.
    public func verify(key: String, deadline: ContinuousClock.Instant, stage: StageTracker = StageTracker(),
                       requestID: String = "") async throws(VerificationError) -> VerificationResult {
        let reference = try Self.reference(key)
        if let cached = cachedResult(reference) { return cached }
        // Anything that needs the registry moves to the transport's I/O thread first, so each
        // answer resumes it there.
        return try await withTaskExecutorPreference(options.taskExecutor) { () async throws(VerificationError) -> VerificationResult in
            try await self.verify(reference, key: key, deadline: deadline, stage: stage, requestID: requestID)
        }
    }

    private func verify(_ reference: ImageReference, key: String, deadline: ContinuousClock.Instant, stage: StageTracker,
                        requestID: String) async throws(VerificationError) -> VerificationResult {
        let subject: ImageReference
        if let digest = reference.digest {
            // A digest-pinned key needs no resolve: the digest is the subject. (A verifier that
            // needs the subject's descriptor, such as notation, resolves it alongside its work;
            // an empty referrer list is resolved afterwards to tell a missing image apart.)
            subject = reference.pinned(to: digest)
        } else {
            stage.enter("resolve")
            subject = reference.pinned(to: try await resolveSubject(reference, key: key, stage: stage, deadline: deadline).digest)
        }
        let descriptorDigest = subject.digest!
        let cacheKey = resultKey(subject, descriptorDigest)
        if options.cacheEnabled, let cached = results.get(cacheKey) { return cached }
        return try await inFlight.run(cacheKey, executor: options.taskExecutor) { () throws(VerificationError) -> VerificationResult in
            let sharedKey = SharedKey.verdict(configuration: self.options.sharedConfiguration, subject: "\(subject.name)@\(descriptorDigest)")
            if self.options.cacheEnabled, let shared = self.shared,
               let entry = await shared.get(sharedKey, deadline: min(deadline, .now + shared.lookupBudget)),
               let result = VerificationResult(sharedEncoding: entry.value, policy: self.policy),
               result.subject.hasSuffix("@\(descriptorDigest)") {
                // Another replica verified it: reuse it here for what is left of its time.
                self.results.put(cacheKey, result, ttl: min(entry.remaining, result.isSuccess ? self.options.successTTL : self.options.failureTTL))
                return result
            }
            let result = try await self.evaluate(subject, stage: stage, deadline: deadline)
            // Cancelled (nobody waits any more): what failed for that reason is not a verdict
            // to keep or share.
            // The same for a failure reached after the deadline this work ran under (another
            // caller may still wait): fetches that failed for lack of time are not a verdict
            // about the image. (A pass completed late is still a pass: every check ran.)
            if Task.isCancelled || (!result.isSuccess && ContinuousClock.now >= deadline) {
                throw Self.timeoutError(key: key, stage: stage.current, detail: "the request's deadline passed; the verification was stopped")
            }
            if self.options.cacheEnabled {
                let ttl = result.isSuccess ? self.options.successTTL : self.options.failureTTL
                self.results.put(cacheKey, result, ttl: ttl)
                self.shared?.put(sharedKey, result.sharedEncoding(), ttl: ttl)
            }
            self.observe(subject.description, { result.json(version: self.policy.resultVersion, traceID: requestID,
                                                             timestamp: Self.timestamp()) }, requestID)
            return result
        }
    }

    /// Results are cached per configuration generation and subject digest.
    private func resultKey(_ reference: ImageReference, _ digest: Digest) -> String {
        "\(options.generation)|\(reference.name)@\(digest)"
    }

    private func resolveSubject(_ reference: ImageReference, key: String, stage: StageTracker,
                                deadline: ContinuousClock.Instant) async throws(VerificationError) -> Descriptor {
        do {
            return try await store.resolve(reference, deadline: deadline)
        } catch {
            try Self.timeoutIfPast(deadline, key: key, stage: stage, cause: error)
            throw VerificationError(code: .resolveFailed, detail: "cannot resolve \(reference): \(error)",
                                    remediation: "check the image exists and the registry credentials allow pulling it")
        }
    }

    /// The verifier type of the per-platform reports of a multi-platform verdict.
    public static let platformReportType = "platform"

    /// A subject's verdict; for an image index, what `multiPlatform` asks.
    private func evaluate(_ subject: ImageReference, stage: StageTracker, deadline: ContinuousClock.Instant) async throws(VerificationError) -> VerificationResult {
        let mode = policy.multiPlatform
        guard mode != .index else { return try await evaluateReferrers(subject, stage: stage, deadline: deadline) }
        stage.enter("resolve")
        let descriptor = try await resolveSubject(subject, key: subject.description, stage: stage, deadline: deadline)
        guard descriptor.mediaType == MediaType.ociIndex || descriptor.mediaType == MediaType.dockerManifestList else {
            return try await evaluateReferrers(subject, stage: stage, deadline: deadline)
        }
        var indexResult: VerificationResult?
        if mode == .either {
            let result = try await evaluateReferrers(subject, stage: stage, deadline: deadline)
            if result.isSuccess { return result }
            indexResult = result
        }
        stage.enter("platforms")
        let index: Manifest
        do {
            (index, _) = try await store.manifest(descriptor, in: subject, deadline: deadline)
        } catch {
            try Self.timeoutIfPast(deadline, key: subject.description, stage: stage, cause: error)
            throw VerificationError(code: .resolveFailed, detail: "cannot read the image index \(subject): \(error)",
                                    remediation: "check the registry is reachable and the index exists")
        }
        // Attestation manifests (buildx: platform unknown/unknown, vnd.docker.reference.type) carry
        // provenance for another manifest; they are not images that run.
        let isAttestation: (Descriptor) -> Bool = {
            $0.platform == "unknown/unknown" || $0.annotations["vnd.docker.reference.type"] == "attestation-manifest"
        }
        let platforms = index.manifests.filter { !isAttestation($0) }
        let skipped = index.manifests.filter(isAttestation).map { child in
            VerifierReport(subject: subject.pinned(to: child.digest).description, isSuccess: true, verifierName: "ratify",
                           verifierType: Self.platformReportType, referenceDigest: child.digest.description, artifactType: child.mediaType,
                           message: "\(child.platform ?? "unknown"): not verified: an attestation manifest, not a platform image",
                           extensions: ["platform": .string(child.platform ?? "unknown"), "skipped": true])
        }
        guard !platforms.isEmpty else {
            return VerificationResult(subject: subject.description, isSuccess: false, reports: (indexResult?.reports ?? []) + [
                .executorFailure(subject: subject.description, reason: .noPlatformManifests,
                                 message: "the image index \(subject) lists no platform manifest to verify",
                                 remediation: "push the platform images, or verify the index itself (multiPlatform: index)"),
            ] + skipped)
        }
        // Each platform within the same deadline, concurrently.
        let results = await boundedMap(platforms, concurrency: 4) { child -> VerificationResult in
            let childSubject = subject.pinned(to: child.digest)
            do throws(VerificationError) {
                return try await self.evaluateReferrers(childSubject, stage: StageTracker(), deadline: deadline)
            } catch {
                return VerificationResult(subject: childSubject.description, isSuccess: false, reports: [
                    .executorFailure(subject: childSubject.description, errorReason: error.code.rawValue, message: error.detail,
                                     remediation: error.remediation),
                ])
            }
        }
        let platformReports = zip(platforms, results).map { child, result in
            let platform = child.platform ?? "unknown platform"
            return VerifierReport(subject: result.subject, isSuccess: result.isSuccess, verifierName: "ratify",
                                  verifierType: Self.platformReportType, referenceDigest: child.digest.description, artifactType: child.mediaType,
                                  message: result.isSuccess ? "\(platform): verified" : "\(platform): failed verification",
                                  errorReason: result.isSuccess ? nil : ExecutorReason.platformFailed.rawValue,
                                  remediation: result.isSuccess ? nil : "sign the \(platform) image \(child.digest) (or the index, with multiPlatform: either)",
                                  extensions: ["platform": .string(platform)], nestedResults: result.reports)
        }
        let allPass = platformReports.allSatisfy(\.isSuccess)
        let reports = allPass || indexResult == nil ? platformReports + skipped : indexResult!.reports + platformReports + skipped
        return VerificationResult(subject: subject.description, isSuccess: allPass, reports: reports)
    }

    /// A subject's verdict from its own referrers.
    private func evaluateReferrers(_ subject: ImageReference, stage: StageTracker, deadline: ContinuousClock.Instant) async throws(VerificationError) -> VerificationResult {
        stage.enter("referrers")
        let speculation = Speculation()
        // Whatever no job took over (its referrer left out of the list, or not needed) stops.
        defer { speculation.close() }
        let referrers: [Descriptor]
        do {
            // A referrer the store names before its list is complete (cosign's `.sig`, which
            // may arrive before the tag-schema listing) is checked at once; its job takes the
            // check over instead of starting it again.
            referrers = try await store.referrers(of: subject, artifactTypes: nil, verifiable: verifiableTypes, early: { referrer in
                for (index, verifier) in self.claimants(of: referrer) {
                    speculation.start(Speculation.key(index, referrer), executor: self.options.taskExecutor) {
                        await self.check(verifier, referrer, of: subject, ownTransfers: 1, deadline: deadline)
                    }
                }
            }, deadline: deadline)
        } catch {
            try Self.timeoutIfPast(deadline, key: subject.description, stage: stage, cause: error)
            throw VerificationError(code: .referrersFailed, detail: "cannot list referrers of \(subject): \(error)",
                                    remediation: "check the registry is reachable and the store configuration (useHttp, credentials)")
        }
        stage.enter("verify")
        let reports = await verifyReferrers(referrers, of: subject, depth: 0, speculation: speculation, deadline: deadline)
        if referrers.isEmpty {
            // Nothing attached: say so, unless the subject itself does not exist.
            _ = try await resolveSubject(subject, key: subject.description, stage: stage, deadline: deadline)
            return VerificationResult(subject: subject.description, isSuccess: false, reports: [
                .executorFailure(subject: subject.description, reason: .referrersNotFound,
                                 message: "no signatures or other artifacts are attached to \(subject)",
                                 remediation: "sign the image (notation sign / cosign sign) and push the signature to the same repository"),
            ])
        }
        if reports.isEmpty {
            let types = Set(referrers.compactMap(\.artifactType)).sorted().joined(separator: ", ")
            return VerificationResult(subject: subject.description, isSuccess: false, reports: [
                .executorFailure(subject: subject.description, reason: .noVerifierReport,
                                 message: "no configured verifier handles the artifacts attached to \(subject) (\(types))",
                                 remediation: "add a verifier whose artifactTypes include one of: \(types)"),
            ])
        }
        return VerificationResult(subject: subject.description, isSuccess: policy.isSuccess(reports), reports: reports)
    }

    private func verifyReferrers(_ referrers: [Descriptor], of subject: ImageReference, depth: Int, speculation: Speculation? = nil,
                                 deadline: ContinuousClock.Instant) async -> [VerifierReport] {
        let jobs: [(verifier: any Verifier, index: Int, referrer: Descriptor)] = referrers.flatMap { referrer in
            claimants(of: referrer).map { (verifier: $0.verifier, index: $0.index, referrer: referrer) }
        }
        // Ratify issue #790: under an `any` rule one passing report settles its artifact type, so
        // the first job of such a type runs alone (alongside the other types' jobs) and the rest
        // of the type run only if it failed; once settled they are reported as not verified.
        var firstWave: [Int] = [], secondWave: [Int] = []
        var anyTypesSeen = Set<String>()
        for (index, job) in jobs.enumerated() {
            let type = job.referrer.artifactType ?? ""
            if options.stopWhenSettled, policy.isSettledByOneSuccess(artifactType: type), !anyTypesSeen.insert(type).inserted {
                secondWave.append(index)
            } else {
                firstWave.append(index)
            }
        }
        let run: @Sendable (Int) async -> VerifierReport = { index in
            let job = jobs[index]
            return await self.runJob(verifier: job.verifier, referrer: job.referrer, of: subject, depth: depth,
                                     speculated: speculation?.take(Speculation.key(job.index, job.referrer)), deadline: deadline)
        }
        var reports = [VerifierReport?](repeating: nil, count: jobs.count)
        for (index, report) in zip(firstWave, await boundedMap(firstWave, concurrency: 4, run)) { reports[index] = report }
        if policy.verifiesAllNested {
            // Rego mode: every referrer's own referrers, verified once per referrer, under each of
            // its reports; a referrer no verifier handles is still listed (with no verifier reports).
            var referrerOf = jobs.map(\.referrer)
            let handled = Set(referrerOf.map(\.digest))
            for referrer in referrers where !handled.contains(referrer.digest) {
                referrerOf.append(referrer)
                reports.append(VerifierReport(subject: subject.description, isSuccess: false, verifierName: "",
                                              verifierType: NestedReports.unverifiedType, referenceDigest: referrer.digest.description,
                                              artifactType: referrer.artifactType, message: "no configured verifier handles \(referrer.artifactType ?? "this artifact")"))
            }
            let unique = Array(Set(referrerOf))
            let nested = await boundedMap(unique, concurrency: 4) { referrer -> [VerifierReport] in
                await self.allNested(referrer, of: subject, depth: depth, deadline: deadline)
            }
            let byDigest = Dictionary(zip(unique.map(\.digest), nested), uniquingKeysWith: { a, _ in a })
            for index in reports.indices { reports[index]?.nestedResults = byDigest[referrerOf[index].digest] ?? [] }
            return reports.map { $0! }
        }
        guard !secondWave.isEmpty else { return reports.map { $0! } }
        var settledBy: [String: String] = [:]
        for case let report? in reports where report.isSuccess {
            let type = report.artifactType ?? ""
            if policy.isSettledByOneSuccess(artifactType: type), settledBy[type] == nil { settledBy[type] = report.referenceDigest ?? "" }
        }
        let remaining = secondWave.filter { settledBy[jobs[$0].referrer.artifactType ?? ""] == nil }
        for (index, report) in zip(remaining, await boundedMap(remaining, concurrency: 4, run)) { reports[index] = report }
        for index in secondWave where reports[index] == nil {
            let (verifier, _, referrer) = jobs[index]
            let type = referrer.artifactType ?? ""
            reports[index] = VerifierReport(
                subject: subject.description, isSuccess: false, verifierName: verifier.name, verifierType: verifier.type,
                referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                message: "not verified: the policy needs one passing \(type) and \(settledBy[type] ?? "another") passed",
                errorReason: ExecutorReason.notNeeded.rawValue,
                remediation: "none needed; this report does not count against the subject")
        }
        return reports.map { $0! }
    }

    /// The verifiers that claim `referrer`'s artifact type, with their places in `verifiers` (which
    /// key a check started early, `Speculation.key`).
    private func claimants(of referrer: Descriptor) -> [(index: Int, verifier: any Verifier)] {
        verifiers.enumerated().filter { $0.element.canVerify(referrer.artifactType) }.map { (index: $0.offset, verifier: $0.element) }
    }

    /// `speculated`: the same check, already started (`Speculation`).
    private func runJob(verifier: any Verifier, referrer: Descriptor, of subject: ImageReference, depth: Int,
                        speculated: Task<VerifierReport, Never>? = nil, deadline: ContinuousClock.Instant) async -> VerifierReport {
        var report: VerifierReport
        if let speculated {
            report = await withTaskCancellationHandler { await speculated.value } onCancel: { speculated.cancel() }
        } else {
            report = await check(verifier, referrer, of: subject, deadline: deadline)
        }
        // (Rego mode verifies every referrer's referrers instead, and leaves the verdict to the policy.)
        if !verifier.nestedReferences.isEmpty && !policy.verifiesAllNested {
            if depth < options.maxNestingDepth {
                report = await attachNested(report, verifier: verifier, referrer: referrer, of: subject, depth: depth, deadline: deadline)
            } else {
                // Fail closed: what the verifier requires below this level is not verified.
                report.isSuccess = false
                report.errorReason = ExecutorReason.nestedDepthExceeded.rawValue
                report.message += (report.message.isEmpty ? "" : "; ") + "the \(verifier.nestedReferences.joined(separator: ", ")) attached to \(referrer.digest) would be nested deeper than \(options.maxNestingDepth) levels and are not verified"
                report.remediation = "attach the required artifacts closer to the image, or raise the nesting limit"
            }
        }
        return report
    }

    /// One verifier's check of one referrer, where it should run. The verifier's own work
    /// (parsing, chains, signatures, CRLs, schemas) runs on the cooperative pool when the
    /// verification runs on the transport's I/O thread, so that the thread keeps moving other
    /// transfers; its store reads still go back there. A brief verifier (cosign, notation) on an
    /// idle I/O thread keeps its work there: the hop to the pool and back would be most of a
    /// cold image's latency (a cosign check is two ECDSA verifies).
    /// `ownTransfers`: the caller's own requests that may still be unanswered (an early check
    /// runs while the rest of its subject's referrer list is on its way).
    private func check(_ verifier: any Verifier, _ referrer: Descriptor, of subject: ImageReference, ownTransfers: Int = 0,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        let offload = options.taskExecutor != nil && (!verifier.runsBriefly || options.taskExecutorIsBusy(ownTransfers))
        return await withTaskExecutorPreference(offload ? globalConcurrentExecutor : nil) {
            await verifier.verify(subject: subject, referrer: referrer, store: self.store, deadline: deadline)
        }
    }

    /// Rego mode: the verification of everything attached to `referrer`, as reports (empty when
    /// nothing is, or below the nesting limit); a listing that fails is a failing report.
    private func allNested(_ referrer: Descriptor, of subject: ImageReference, depth: Int,
                           deadline: ContinuousClock.Instant) async -> [VerifierReport] {
        let nestedSubject = ImageReference(registry: subject.registry, repository: subject.repository, digest: referrer.digest)
        do {
            let nested = try await store.referrers(of: nestedSubject, artifactTypes: nil, deadline: deadline)
            guard depth < options.maxNestingDepth else {
                // Fail closed: what is attached below the limit is reported, not silently left out.
                return nested.isEmpty ? [] : [.executorFailure(subject: nestedSubject.description, reason: .nestedDepthExceeded,
                    message: "\(nested.count) artifact(s) attached to \(referrer.digest) are nested deeper than \(options.maxNestingDepth) levels and are not verified",
                    remediation: "attach the artifacts closer to the image")]
            }
            return await verifyReferrers(nested, of: nestedSubject, depth: depth + 1, deadline: deadline)
        } catch {
            return [.executorFailure(subject: nestedSubject.description, errorReason: "LIST_REFERRERS_FAILURE",
                                     message: "cannot list referrers of \(referrer.digest): \(error)",
                                     remediation: "check the registry is reachable")]
        }
    }

    /// Ratify's `nestedReferences`: the referrer becomes a subject; its own referrers of the
    /// listed types are verified, and the outer report passes only if they pass too.
    private func attachNested(_ report: VerifierReport, verifier: any Verifier, referrer: Descriptor, of subject: ImageReference,
                              depth: Int, deadline: ContinuousClock.Instant) async -> VerifierReport {
        var report = report
        let nestedSubject = ImageReference(registry: subject.registry, repository: subject.repository, digest: referrer.digest)
        do {
            let nested = try await store.referrers(of: nestedSubject, artifactTypes: verifier.nestedReferences, deadline: deadline)
            let nestedReports = await verifyReferrers(nested, of: nestedSubject, depth: depth + 1, deadline: deadline)
            report.nestedResults = nestedReports
            if nestedReports.isEmpty {
                report.isSuccess = false
                report.errorReason = report.errorReason ?? ExecutorReason.nestedVerificationMissing.rawValue
                report.message += (report.message.isEmpty ? "" : "; ") + "no verified \(verifier.nestedReferences.joined(separator: ", ")) attached to \(referrer.digest)"
                report.remediation = report.remediation ?? "sign the \(referrer.artifactType ?? "artifact") \(referrer.digest) and push the signature"
                // As Ratify answers it (ErrorToVerifyResult on NO_VERIFIER_REPORT): a failing nested
                // result, so templates walking `nestedResults` (notation-nested-validation) see it.
                report.nestedResults = [VerifierReport.executorFailure(
                    subject: nestedSubject.description, reason: .nestedVerificationMissing,
                    message: "no \(verifier.nestedReferences.joined(separator: ", ")) is attached to \(nestedSubject)",
                    remediation: "sign the \(referrer.artifactType ?? "artifact") \(referrer.digest) and push the signature")]
            } else if !policy.isSuccess(nestedReports) {
                report.isSuccess = false
                report.errorReason = report.errorReason ?? ExecutorReason.nestedVerificationFailed.rawValue
                report.remediation = report.remediation ?? "see nestedResults for the artifact attached to \(referrer.digest)"
            }
        } catch {
            report.isSuccess = false
            report.errorReason = "LIST_REFERRERS_FAILURE"
            report.message += "; cannot list referrers of \(referrer.digest): \(error)"
        }
        return report
    }

    /// A store call that failed because the deadline passed is a timeout of this stage, whatever
    /// the store called it; the answer must say where the time ran out.
    static func timeoutIfPast(_ deadline: ContinuousClock.Instant, key: String, stage: StageTracker, cause: any Error) throws(VerificationError) {
        guard ContinuousClock.now >= deadline || (cause as? any TimeoutReporting)?.isTimeout == true else { return }
        throw timeoutError(key: key, stage: stage.current, detail: "\(cause)")
    }

    static func timeoutError(key: String, stage: String, detail: String) -> VerificationError {
        VerificationError(code: .timeout, detail: "\(key) ran out of time during \(stage) (\(detail))",
            remediation: "check that the registry is reachable and fast enough, or raise executor.verificationRequestTimeout and Gatekeeper's provider timeout together")
    }

    /// RFC 3339 with fractional seconds, UTC.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900, month = Int(parts.tm_mon) + 1
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(Int(parts.tm_mday), 2))T\(pad(Int(parts.tm_hour), 2)):"
            + "\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(now.tv_nsec, 9))Z"
    }
}

/// Errors that can say they were a timeout (a store's request ran out of its share of the deadline).
public protocol TimeoutReporting: Error {
    var isTimeout: Bool { get }
}

/// Which stage a verification is in, so a timeout can say where the time went.
public final class StageTracker: Sendable {
    private let stage = Mutex("queued")
    public init() {}
    public func enter(_ name: String) { stage.withLock { $0 = name } }
    public var current: String { stage.withLock { $0 } }
}

/// Verifier checks started before a subject's referrer list was complete (the store's `early`),
/// each taken over by the job that would have started it — same verifier, same referrer, same
/// subject and deadline, so the report is the one that job would have made. Checks no job takes
/// are cancelled when the subject's evaluation ends; none start after that.
final class Speculation: Sendable {
    private struct State {
        var tasks: [String: Task<VerifierReport, Never>] = [:]
        var closed = false
    }
    private let state = Mutex(State())

    static func key(_ verifierIndex: Int, _ referrer: Descriptor) -> String { "\(verifierIndex)|\(referrer.digest.description)" }

    func start(_ key: String, executor: (any TaskExecutor)?, _ work: @escaping @Sendable () async -> VerifierReport) {
        state.withLock { state in
            guard !state.closed, state.tasks[key] == nil else { return }
            state.tasks[key] = Task(executorPreference: executor, operation: work)
        }
    }

    func take(_ key: String) -> Task<VerifierReport, Never>? {
        state.withLock { $0.tasks.removeValue(forKey: key) }
    }

    func close() {
        let left = state.withLock { state -> [Task<VerifierReport, Never>] in
            state.closed = true
            defer { state.tasks = [:] }
            return Array(state.tasks.values)
        }
        for task in left { task.cancel() }
    }
}
