import Foundation
import JSON

/// The fixture generators (Tests/Support/Fixtures/*.py): independent implementations — Python
/// `cryptography`, `jwcrypto`, `pycose`, `asn1crypto`, the OpenSSL CLI — of what the code under
/// test verifies. Each writes its files into a directory it is given.
public enum FixtureScripts {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The path of one generator, e.g. `make_notation_fixtures.py`.
    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a generator that writes `cases.json` into a scratch directory (off the cooperative
    /// pool: python takes seconds) and returns that document; the directory is removed.
    public static func cases(_ name: String) async throws -> JSONValue {
        try await offPool {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-\(name)-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            try ProcessRunner.python(path(name), [scratch.path])
            return try JSONParser.parse(Array(try Data(contentsOf: scratch.appendingPathComponent("cases.json"))))
        }
    }
}
