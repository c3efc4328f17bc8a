import Core
import Crypto
import Foundation
import JSON

/// A sigstore `trusted_root.json` (or PEM roots for a private PKI): the transparency logs
/// (`tlogs`, Rekor), the certificate transparency logs (`ctlogs`) and the certificate
/// authorities (`certificateAuthorities`, Fulcio) that keyless verification trusts. Logs are
/// keyed by log ID — the hex SHA-256 of the log's DER public key — derived from the key itself,
/// so a wrong `logId` entry cannot redirect trust.
public struct TrustedRoot: Sendable {
    public var logs: [String: PublicKey]
    public var ctLogs: [String: PublicKey]
    /// Self-signed CA certificates.
    public var roots: [Certificate]
    /// CA certificates that are not self-signed.
    public var intermediates: [Certificate]
    /// The certificates of the timestamp authorities (`timestampAuthorities[].certChain`): RFC
    /// 3161 tokens must chain to them.
    public var timestampAuthorities: [Certificate] = []
    /// `validFor` of each log key (by log ID), CA and TSA certificate (by DER): sigstore-go trusts
    /// a key or authority only for what happened inside its window (retired ones stay listed).
    public var logWindows: [String: Window] = [:]
    public var ctLogWindows: [String: Window] = [:]
    public var certificateWindows: [[UInt8]: Window] = [:]

    /// A `validFor` period; an open end is unbounded.
    public struct Window: Sendable, Equatable, CustomStringConvertible {
        public var start: Date?
        public var end: Date?
        public func contains(_ date: Date) -> Bool { (start.map { date >= $0 } ?? true) && (end.map { date <= $0 } ?? true) }
        public var description: String {
            let format = ISO8601DateFormatter()
            return "\(start.map(format.string(from:)) ?? "the beginning") to \(end.map(format.string(from:)) ?? "no end")"
        }

        static func parse(_ value: JSONValue?) -> Window? {
            guard let value, value.objectValue != nil else { return nil }
            func date(_ text: String?) -> Date? {
                guard let text else { return nil }
                let precise = ISO8601DateFormatter()
                precise.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return precise.date(from: text) ?? ISO8601DateFormatter().date(from: text)
            }
            return Window(start: date(value["start"]?.stringValue), end: date(value["end"]?.stringValue))
        }
    }

    /// The CA certificates whose authority's window includes `time`.
    public func roots(at time: Date) -> [Certificate] { roots.filter { certificateWindows[$0.derBytes]?.contains(time) ?? true } }
    public func intermediates(at time: Date) -> [Certificate] { intermediates.filter { certificateWindows[$0.derBytes]?.contains(time) ?? true } }
    public func timestampAuthorities(at time: Date) -> [Certificate] {
        timestampAuthorities.filter { certificateWindows[$0.derBytes]?.contains(time) ?? true }
    }

    public init(logs: [String: PublicKey] = [:], ctLogs: [String: PublicKey] = [:], roots: [Certificate] = [], intermediates: [Certificate] = []) {
        self.logs = logs
        self.ctLogs = ctLogs
        self.roots = roots
        self.intermediates = intermediates
    }

    public static func load(path: String) throws(CryptoError) -> TrustedRoot {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoError(.invalidKey, "cannot read trusted root \(path)")
        }
        return try parse(Array(data), source: path)
    }

    /// A trusted_root.json's bytes; `path` names it in errors.
    public static func parse(_ data: [UInt8], source path: String) throws(CryptoError) -> TrustedRoot {
        guard let document = try? JSONParser.parse(data), document.objectValue != nil else {
            throw CryptoError(.invalidKey, "\(path) is not a sigstore trusted_root.json (JSON object)")
        }
        var root = TrustedRoot()
        (root.logs, root.logWindows) = try logKeys(document["tlogs"], field: "tlogs", path: path)
        (root.ctLogs, root.ctLogWindows) = try logKeys(document["ctlogs"], field: "ctlogs", path: path)
        for (index, authority) in (document["certificateAuthorities"]?.arrayValue ?? []).enumerated() {
            guard let certificates = authority["certChain"]?["certificates"]?.arrayValue, !certificates.isEmpty else {
                throw CryptoError(.invalidKey, "\(path): certificateAuthorities[\(index)].certChain.certificates is missing")
            }
            for (position, entry) in certificates.enumerated() {
                let source = "\(path) certificateAuthorities[\(index)].certChain.certificates[\(position)]"
                guard let raw = entry["rawBytes"]?.stringValue, let der = Base64.decode(raw, .protobufJSON) else {
                    throw CryptoError(.invalidKey, "\(source).rawBytes is missing or not base64")
                }
                // sigstore-go: the last certificate of a CA's chain is its root — a trust anchor
                // even when it is not self-signed — and the others its intermediates.
                let certificate = try Certificate.der(Array(der), source: source)
                if let window = Window.parse(authority["validFor"]) { root.certificateWindows[certificate.derBytes] = window }
                if position == certificates.count - 1 { root.roots.append(certificate) } else { root.intermediates.append(certificate) }
            }
        }
        for (index, authority) in (document["timestampAuthorities"]?.arrayValue ?? []).enumerated() {
            for (position, entry) in (authority["certChain"]?["certificates"]?.arrayValue ?? []).enumerated() {
                let source = "\(path) timestampAuthorities[\(index)].certChain.certificates[\(position)]"
                guard let raw = entry["rawBytes"]?.stringValue, let der = Base64.decode(raw, .protobufJSON) else {
                    throw CryptoError(.invalidKey, "\(source).rawBytes is missing or not base64")
                }
                let certificate = try Certificate.der(Array(der), source: source)
                if let window = Window.parse(authority["validFor"]) { root.certificateWindows[certificate.derBytes] = window }
                root.timestampAuthorities.append(certificate)
            }
        }
        // An empty trusted root is valid (sigstore-go loads one; cosign's blob tests use it with
        // keys): what needs a log key or a CA then fails when verifying, naming what is missing.
        return root
    }

    /// Adds CA certificates from a PEM bundle (a private PKI's roots and intermediates).
    public mutating func addPEM(file: String) throws(CryptoError) {
        guard let data = FileManager.default.contents(atPath: file) else { throw CryptoError(.invalidKey, "cannot read \(file)") }
        for certificate in try Certificate.pemChain(Array(data), source: file) { add(certificate) }
    }

    mutating func add(_ certificate: Certificate) {
        if certificate.isSelfIssued { roots.append(certificate) } else { intermediates.append(certificate) }
    }

    static func logKeys(_ value: JSONValue?, field: String, path: String) throws(CryptoError) -> ([String: PublicKey], [String: Window]) {
        var keys: [String: PublicKey] = [:], windows: [String: Window] = [:]
        for (index, log) in (value?.arrayValue ?? []).enumerated() {
            guard let raw = log["publicKey"]?["rawBytes"]?.stringValue, let der = Base64.decode(raw, .protobufJSON) else {
                throw CryptoError(.invalidKey, "\(path): \(field)[\(index)].publicKey.rawBytes is missing or not base64")
            }
            let key = try PublicKey.der(Array(der), source: "\(path) \(field)[\(index)]")
            // Rekor v1 and CT logs are named by the SHA-256 of their key; Rekor v2 (C2SP signed
            // notes) by SHA-256(origin || "\n" || key type || key), the entry's declared logId.
            // A declared logId is an alias only where it is derived from this very key, so a wrong
            // logId entry cannot lend one log's key to another's entries; CT logs have no alias.
            var ids = [Hash.hex(.sha256, key.derBytes)]
            if field == "tlogs", let declared = log["logId"]?["keyId"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }),
               let alias = signedNoteID(key: key, baseURL: log["baseUrl"]?.stringValue), Array(declared) == alias {
                ids.append(Hash.hexString(alias))
            }
            for id in ids {
                // One ID never names two keys: the first log listed under an ID keeps it.
                if let existing = keys[id], existing.derBytes != key.derBytes {
                    throw CryptoError(.invalidKey, "\(path): \(field)[\(index)] reuses log ID \(id) of another key")
                }
                keys[id] = key
                if let window = Window.parse(log["publicKey"]?["validFor"]) { windows[id] = window }
            }
        }
        return (keys, windows)
    }

    /// C2SP signed-note key ID for an Ed25519 log key: SHA-256(origin || "\n" || 0x01 || raw key),
    /// origin being the log's host (Rekor v2 checkpoints are named so; c2sp.org/signed-note).
    static func signedNoteID(key: PublicKey, baseURL: String?) -> [UInt8]? {
        guard key.kind == .ed25519, key.derBytes.count == 44, let baseURL, let host = URL(string: baseURL)?.host, !host.isEmpty else { return nil }
        return Hash.digest(.sha256, Array(host.utf8) + [0x0A, 0x01] + Array(key.derBytes.suffix(32)))
    }
}
