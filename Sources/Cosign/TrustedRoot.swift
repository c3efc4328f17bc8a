import Crypto
import Foundation
import JSON

/// The transparency logs a sigstore `trusted_root.json` trusts (its `tlogs`), keyed by log ID:
/// the hex SHA-256 of the log's DER public key, as Rekor bundles name them.
public struct TrustedRoot: Sendable {
    public let logs: [String: PublicKey]

    public init(logs: [String: PublicKey]) { self.logs = logs }

    public static func load(path: String) throws(CryptoError) -> TrustedRoot {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoError(.invalidKey, "cannot read trusted root \(path)")
        }
        guard let document = try? JSONParser.parse(Array(data)), let tlogs = document["tlogs"]?.arrayValue else {
            throw CryptoError(.invalidKey, "\(path) is not a sigstore trusted_root.json with tlogs")
        }
        var logs: [String: PublicKey] = [:]
        for (index, log) in tlogs.enumerated() {
            guard let raw = log["publicKey"]?["rawBytes"]?.stringValue, let der = Data(base64Encoded: raw) else {
                throw CryptoError(.invalidKey, "\(path): tlogs[\(index)].publicKey.rawBytes is missing or not base64")
            }
            let key = try PublicKey.der(Array(der), source: "\(path) tlogs[\(index)]")
            // The log ID is derived from the key itself, so a wrong logId entry cannot redirect trust.
            logs[Hash.hex(.sha256, key.derBytes)] = key
        }
        return TrustedRoot(logs: logs)
    }
}
