import Core
import Testing

private let hex64 = String(repeating: "a", count: 64)

@Suite struct ImageReferenceTests {
    static let valid: [(String, String)] = [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("user/app", "docker.io/user/app:latest"),
        ("ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app:dev", "localhost:5000/app:dev"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        ("registry.example.com/a_b/c__d/e-f/g--h/i.j", "registry.example.com/a_b/c__d/e-f/g--h/i.j:latest"),
        ("ghcr.io/o/app@sha256:\(hex64)", "ghcr.io/o/app@sha256:\(hex64)"),
        ("ghcr.io/o/app:1@sha256:\(hex64)", "ghcr.io/o/app:1@sha256:\(hex64)"),
        ("Registry.Example.com/app", "Registry.Example.com/app:latest"),
        ("myregistry.azurecr.io/net-monitor:v1", "myregistry.azurecr.io/net-monitor:v1"),
        ("[2001:DB8::1]/app", "[2001:DB8::1]/app:latest"),
        ("a-b.c9:443/app", "a-b.c9:443/app:latest"),
        ("9.example/app", "9.example/app:latest"),
    ]

    @Test(arguments: valid)
    func normalisesLikeDocker(_ input: String, _ expected: String) throws {
        #expect(try ImageReference.parse(input).description == expected)
    }

    @Test func splitsRegistryRepositoryTagDigest() throws {
        let reference = try ImageReference.parse("localhost:5000/team/app:v1@sha512:" + String(repeating: "b", count: 128))
        #expect(reference.registry == "localhost:5000")
        #expect(reference.repository == "team/app")
        #expect(reference.tag == "v1")
        #expect(reference.digest?.algorithm == .sha512)
        #expect(try ImageReference.parse("busybox").apiHost == "registry-1.docker.io")
    }

    static let invalid: [(String, ReferenceError.Code)] = [
        ("", .invalidReference),
        ("Busybox", .nameNotLowercase),
        ("ghcr.io/Org/app", .nameNotLowercase),
        ("ghcr.io/org/app:", .invalidTag),
        ("ghcr.io/org/app:-tag", .invalidTag),
        ("ghcr.io/org/app:" + String(repeating: "t", count: 129), .invalidTag),
        ("ghcr.io/org/app@md5:d41d8cd98f00b204e9800998ecf8427e", .unsupportedDigestAlgorithm),
        ("ghcr.io/org/app@sha256:abc", .invalidDigest),
        ("ghcr.io/org/app@sha256:" + String(repeating: "A", count: 64), .invalidDigest),
        ("ghcr.io/org/app@" + hex64, .invalidDigest),
        ("ghcr.io/org//app", .invalidReference),
        ("ghcr.io/org/app-", .invalidReference),
        ("ghcr.io/org/a...b", .invalidReference),
        ("ghcr.io/-org/app", .invalidReference),
        ("-bad.io/app", .invalidReference),
        ("ghcr.io:port/app", .invalidReference),
        ("ghcr.io/" + String(repeating: "a", count: 250), .nameTooLong),
        // Hosts: empty labels, labels ending in '-', non-ASCII, ports and IPv6 literals.
        ("ghcr..io/app", .invalidReference),
        ("ghcr.io./app", .invalidReference),
        ("ghcr-.io/app", .invalidReference),
        ("gh_cr.io/app", .invalidReference),
        ("régistry.io/app", .invalidReference),
        ("ghcr.io:/app", .invalidReference),
        ("ghcr.io:80a/app", .invalidReference),
        (":5000/app", .invalidReference),
        ("[]:5000/app", .invalidReference),
        ("[::1/app", .invalidReference),
        ("[::g]/app", .invalidReference),
        ("[::1]:/app", .invalidReference),
        ("[::1]x/app", .invalidReference),
        ("[\u{FF11}::1]/app", .invalidReference),  // a fullwidth digit is not a hex digit here
        // Uppercase outside ASCII is still uppercase (the repository must be lowercase).
        ("ghcr.io/org/Äpp", .nameNotLowercase),
    ]

    @Test(arguments: invalid)
    func refusesInvalidReferences(_ input: String, _ code: ReferenceError.Code) {
        do {
            let parsed = try ImageReference.parse(input)
            Issue.record("accepted \(input) as \(parsed)")
        } catch {
            #expect(error.code == code, "\(input): \(error)")
        }
    }

    /// The path-component grammar of distribution/reference, checked against its regular
    /// expression on every string of up to five bytes over an alphabet of the interesting ones.
    @Test func pathComponentsFollowDistributionsExpression() throws {
        let expression = try Regex("^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
        let alphabet: [Character] = ["a", "1", ".", "_", "-", "B", "@"]
        var strings = [""]
        for _ in 0..<5 { strings = strings + strings.flatMap { prefix in alphabet.map { prefix + String($0) } } }
        var checked = 0
        for component in Set(strings) where !component.isEmpty {
            let expected = component.wholeMatch(of: expression) != nil
            let accepted = (try? ImageReference.parse("registry.example/team/\(component)")) != nil
            // Uppercase is refused first, as its own error; the grammar itself is lowercase.
            #expect(accepted == expected, "\(component)")
            checked += 1
        }
        #expect(checked > 10_000)
    }

    @Test func digestChecksBytes() throws {
        let digest = Digest.of(Array("hello".utf8))
        #expect(digest.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(digest.matches(Array("hello".utf8)))
        #expect(!digest.matches(Array("hellO".utf8)))
        #expect(digest.referrersTag == "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try Digest.parse(digest.description) == digest)
    }
}
