import Foundation

/// The fixture generators (Tests/Support/Fixtures/*.py): independent implementations — Python
/// `cryptography`, `jwcrypto`, `pycose`, `asn1crypto`, the OpenSSL CLI — of what the code under
/// test verifies. Each writes its files into a directory it is given.
public enum FixtureScripts {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The path of one generator, e.g. `make_notation_fixtures.py`.
    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
