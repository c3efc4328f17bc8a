import Foundation

/// A Semantic Versioning 2.0.0 version, as notation-go validates a verification plugin's
/// version and `io.cncf.notary.verificationPluginMinVersion` (the semver.org regular
/// expression: no leading `v`, no leading zeros) and compares them (golang.org/x/mod/semver:
/// numeric core, a pre-release sorts before its release, identifiers compared dot by dot,
/// numeric before alphanumeric, build metadata ignored).
public struct SemanticVersion: Sendable, Comparable, CustomStringConvertible {
    public let major: UInt64, minor: UInt64, patch: UInt64
    public let prerelease: [String]
    public let text: String
    public var description: String { text }

    static let pattern = try! NSRegularExpression(pattern:
        #"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"#)

    public init?(_ text: String) {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = Self.pattern.firstMatch(in: text, range: range) else { return nil }
        func group(_ index: Int) -> String? {
            guard let r = Range(match.range(at: index), in: text) else { return nil }
            return String(text[r])
        }
        guard let major = group(1).flatMap(UInt64.init), let minor = group(2).flatMap(UInt64.init),
              let patch = group(3).flatMap(UInt64.init) else { return nil }
        self.major = major
        self.minor = minor
        self.patch = patch
        prerelease = group(4).map { $0.split(separator: ".").map(String.init) } ?? []
        self.text = text
    }

    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        lhs.major == rhs.major && lhs.minor == rhs.minor && lhs.patch == rhs.patch && lhs.prerelease == rhs.prerelease
    }

    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if (lhs.major, lhs.minor, lhs.patch) != (rhs.major, rhs.minor, rhs.patch) {
            return (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }
        // "a pre-release version has lower precedence than a normal version".
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (a, b) in zip(lhs.prerelease, rhs.prerelease) where a != b {
            switch (UInt64(a), UInt64(b)) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }
}
