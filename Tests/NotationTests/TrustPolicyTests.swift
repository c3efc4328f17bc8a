import Core
import JSON
import Notation
import Testing

func document(_ policies: String) -> String { #"{"version":"1.0","trustPolicies":[\#(policies)]}"# }

func policy(name: String = "p", scopes: String = #"["*"]"#, verification: String = #"{"level":"strict"}"#,
            stores: String = #"["ca:acme"]"#, identities: String = #"["*"]"#) -> String {
    #"{"name":"\#(name)","registryScopes":\#(scopes),"signatureVerification":\#(verification),"trustStores":\#(stores),"trustedIdentities":\#(identities)}"#
}

func load(_ text: String) throws -> TrustPolicyDocument {
    try TrustPolicyDocument.parse(try JSONParser.parse(text), path: "verifier.plugins[0].trustPolicyDoc")
}

func refusal(_ text: String) -> ConfigError? {
    do {
        _ = try load(text)
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        return ConfigError(path: "?", "\(error)")
    }
}

@Suite struct TrustPolicyDocumentTests {
    @Test func levelsFollowTheSpecTableAndOverrides() throws {
        func actions(_ verification: String) throws -> [TrustPolicy.Action] {
            let doc = try load(document(policy(verification: verification)))
            return TrustPolicy.Check.allCases.map { doc.policies[0].action(for: $0) }
        }
        // integrity, authenticity, authenticTimestamp, expiry, revocation
        #expect(try actions(#"{"level":"strict"}"#) == [.enforce, .enforce, .enforce, .enforce, .enforce])
        #expect(try actions(#"{"level":"permissive"}"#) == [.enforce, .enforce, .log, .log, .log])
        #expect(try actions(#"{"level":"audit"}"#) == [.enforce, .log, .log, .log, .log])
        #expect(try actions(#"{"level":"strict","override":{"expiry":"log","revocation":"skip"}}"#) == [.enforce, .enforce, .enforce, .log, .skip])
        #expect(try actions(#"{"level":"audit","override":{"authenticity":"enforce"}}"#) == [.enforce, .enforce, .log, .log, .log])
        let skip = try load(document(policy(scopes: #"["registry.example.com/legacy/app"]"#, verification: #"{"level":"skip"}"#, stores: "[]", identities: "[]")))
        #expect(TrustPolicy.Check.allCases.allSatisfy { skip.policies[0].action(for: $0) == .skip })
    }

    @Test func exactScopeWinsOverGlobal() throws {
        let doc = try load(document([
            policy(name: "global", scopes: #"["*"]"#),
            policy(name: "app", scopes: #"["registry.example.com/team/app","registry.example.com/team/other"]"#),
        ].joined(separator: ",")))
        #expect(doc.policy(for: "registry.example.com/team/app")?.name == "app")
        #expect(doc.policy(for: "registry.example.com/team/unknown")?.name == "global")
        let noGlobal = try load(document(policy(name: "app", scopes: #"["registry.example.com/team/app"]"#)))
        #expect(noGlobal.policy(for: "registry.example.com/else") == nil)
    }

    @Test func trustedIdentitiesMatchSubjectSubsets() throws {
        let doc = try load(document(policy(identities: #"["x509.subject: C=US, ST=WA, O=wabbit-networks.io, OU=Finance"]"#)))
        let signer = try #require(DistinguishedName.parse("CN=builder, OU=Finance, O=wabbit-networks.io, L=Seattle, ST=WA, C=US"))
        #expect(doc.policies[0].trusts(subject: signer))
        #expect(!doc.policies[0].trusts(subject: try #require(DistinguishedName.parse("C=US, ST=WA, O=wabbit-networks.io, OU=Sales"))))
        let escaped = try #require(DistinguishedName.parse(#"C=US, ST=WA, O=Acme\, Inc., CN=a\;b"#))
        #expect(escaped.value("O") == "Acme, Inc.")
        #expect(escaped.value("CN") == "a;b")
    }

    static let invalid: [(String, String, String)] = [
        (#"{"version":"2.0","trustPolicies":[]}"#, ".version", "must be \"1.0\""),
        (#"{"version":"1.0","trustPolicies":[]}"#, ".trustPolicies", "non-empty"),
        (document(policy(name: "a") + "," + policy(name: "a", scopes: #"["registry.example.com/x"]"#)), ".trustPolicies[1].name", "more than one"),
        (document(policy(name: "a") + "," + policy(name: "b")), ".trustPolicies[1].registryScopes", "global scope"),
        (document(policy(name: "a", scopes: #"["r.io/x"]"#) + "," + policy(name: "b", scopes: #"["r.io/x"]"#)), ".trustPolicies[1].registryScopes", "already used"),
        (document(policy(scopes: #"["*","r.io/x"]"#)), ".registryScopes", "only value"),
        (document(policy(scopes: #"["r.io/team/*"]"#)), ".registryScopes[0]", "must not contain"),
        (document(policy(scopes: #"["busybox"]"#)), ".registryScopes[0]", "fully qualified"),
        (document(policy(scopes: #"["r.io/app:v1"]"#)), ".registryScopes[0]", "fully qualified"),
        (document(policy(scopes: "[]")), ".registryScopes", "at least one"),
        (document(policy(verification: #"{"level":"paranoid"}"#)), ".signatureVerification.level", "strict, permissive"),
        (document(policy(verification: #"{"level":"strict","override":{"integrity":"log"}}"#)), ".override.integrity", "cannot be overridden"),
        (document(policy(verification: #"{"level":"strict","override":{"expiry":"skip"}}"#)), ".override.expiry", "enforce or log"),
        (document(policy(verification: #"{"level":"strict","verifyTimestamp":"never"}"#)), ".verifyTimestamp", "always or afterCertExpiry"),
        (document(policy(scopes: #"["r.io/x"]"#, verification: #"{"level":"skip","override":{"expiry":"log"}}"#, stores: "[]", identities: "[]")), ".override", "cannot be customized"),
        (document(policy(scopes: #"["r.io/x"]"#, verification: #"{"level":"skip"}"#)), ".trustPolicies[0]", "must not list"),
        (document(policy(stores: "[]")), ".trustStores", "at least one"),
        (document(policy(stores: #"["acme"]"#)), ".trustStores[0]", "{ca|signingAuthority|tsa}"),
        (document(policy(stores: #"["root:acme"]"#)), ".trustStores[0]", "{ca|signingAuthority|tsa}"),
        (document(policy(identities: "[]")), ".trustedIdentities", "at least one"),
        (document(policy(identities: #"["*","x509.subject: C=US, ST=WA, O=a"]"#)), ".trustedIdentities[0]", "only trusted identity"),
        (document(policy(identities: #"["CN=x"]"#)), ".trustedIdentities[0]", "x509.subject:"),
        (document(policy(identities: #"["x509.subject: C=US, O=a"]"#)), ".trustedIdentities[0]", "ST="),
        (document(policy(identities: #"["x509.subject: C=US, ST=WA, O=a, OU=1","x509.subject: C=US, ST=WA, O=a"]"#)), ".trustedIdentities[1]", "overlaps"),
    ]

    @Test(arguments: invalid)
    func invalidPoliciesAreRefusedWithTheirPath(_ text: String, _ pathSuffix: String, _ message: String) {
        let error = refusal(text)
        #expect(error?.path.hasSuffix(pathSuffix) == true, "\(error?.path ?? "accepted") for \(text)")
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "accepted")")
    }
}

/// Trusted identities as notation-go reads them (internal/pkix over go-ldap's RFC 4514 parser).
@Suite struct DistinguishedNameTests {
    @Test func rfc4514FormsNotationAccepts() throws {
        let alias = try #require(DistinguishedName.parse("C=US, S=WA, O=acme"))
        #expect(alias.value("ST") == "WA", "S is an alias of ST")
        let escaped = try #require(DistinguishedName.parse(#"C=US, ST=WA, O=Acme\2C Inc, L=Z\C3\BCrich"#))
        #expect(escaped.value("O") == "Acme, Inc")
        #expect(escaped.value("L") == "Zürich")
        #expect(DistinguishedName.parse(#"C=US, ST=WA, O=\ padded\ "#)?.value("O") == " padded ")
        #expect(DistinguishedName.parse("C=US;ST=WA;O=acme")?.value("O") == "acme")
    }

    @Test func formsNotationRefuses() {
        #expect(DistinguishedName.parse("C=US, ST=WA, O=acme+OU=build") == nil, "multi-valued RDN")
        #expect(DistinguishedName.parse("C=US, ST=WA, O=acme, O=other") == nil, "repeated type")
        #expect(DistinguishedName.parse("C=US, ST=WA, O=#0403616263") == nil, "=# BER value")
        #expect(DistinguishedName.parse(#"C=US, ST=WA, O=acme\"#) == nil, "dangling escape")
    }

    @Test func identitiesWithAnotherPrefixAreKeptForPluginsAndIgnoredNatively() throws {
        let doc = try load(document(policy(identities: #"["x509.subject: C=US, ST=WA, O=acme", "com.example.plugin:tenant-7"]"#)))
        #expect(doc.policies[0].trustedIdentities.count == 2)
        #expect(doc.policies[0].trustedIdentities[1] == .other(prefix: "com.example.plugin", value: "tenant-7"))
        #expect(refusal(document(policy(identities: #"["x509.subject C=US"]"#)))?.message.contains("separator") == true)
        #expect(refusal(document(policy(identities: #"["x509.subject:"]"#)))?.message.contains("needs a distinguished name") == true)
        #expect(refusal(document(policy(identities: #"["x509.subject: C=US, ST=WA, O=a+CN=b"]"#)))?.message.contains("multi-valued") == true)
    }
}
