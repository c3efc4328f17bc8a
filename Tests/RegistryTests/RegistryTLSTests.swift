import Core
import Foundation
@testable import Registry
import Testing
import TestSupport
import TLS

/// The registry client against the in-repo test registry served over TLS (a certificate of a
/// test CA the system does not trust) and behind Basic auth: an unknown CA is refused unless
/// insecureSkipVerify is set, an https registry cannot redirect to http, and credentials never
/// follow a redirect to another host.
@Suite struct RegistryTLSTests {
    static func tlsRegistry(basicAuth: (user: String, password: String)? = nil) async throws -> ReferrersTestRegistry {
        // TestPKI.shared runs openssl once: off the cooperative pool, which other tests need.
        let pki = try await offPool { TestPKI.shared }
        let tls = try ReloadingTLSContext(configuration: TLSServerConfiguration(certificateChainFile: pki.path("server.crt"), privateKeyFile: pki.path("server.key")))
        return try ReferrersTestRegistry(tls: tls, basicAuth: basicAuth)
    }

    /// An https store (the suite's `makeStore` with plain HTTP turned off).
    func secureStore(insecureSkipVerify: Bool) -> ORASStore {
        makeStore { $0.useHttp = false; $0.insecureSkipVerify = insecureSkipVerify }
    }

    @Test func anUnknownCAIsRefusedUnlessInsecureSkipVerify() async throws {
        let registry = try await Self.tlsRegistry()
        let image = try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("app", tag: "v1")
        let reference = try ImageReference.parse("\(registry.host)/app:v1")
        await expectRegistryError(.connection) {
            _ = try await secureStore(insecureSkipVerify: false).resolveDescriptor(reference, deadline: soon())
        }
        #expect(registry.requests.isEmpty, "nothing was sent to the unverified registry")
        let descriptor = try await secureStore(insecureSkipVerify: true).resolveDescriptor(reference, deadline: soon())
        #expect(descriptor.digest.description == image.digest)
        // curl handles are reused across requests: one that skipped verification must not lend
        // that to the next request that does not ask for it.
        for _ in 0..<3 {
            await expectRegistryError(.connection) {
                _ = try await secureStore(insecureSkipVerify: false).resolveDescriptor(reference, deadline: soon())
            }
            _ = try await secureStore(insecureSkipVerify: true).resolveDescriptor(reference, deadline: soon())
        }
        await registry.stop()
    }

    @Test func anHTTPSRegistryCannotRedirectToPlainHTTP() async throws {
        let registry = try await Self.tlsRegistry(), plain = try ReferrersTestRegistry()
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: false)
        let image = try fixtures.pushImage("app", tag: "v1")
        let blob = try registry.pushBlob("app", Array("layer".utf8))
        _ = try plain.pushBlob("app", Array("layer".utf8))
        registry.redirect("/v2/app/blobs/\(blob.digest)", to: "http://\(plain.host)/v2/app/blobs/\(blob.digest)")
        let store = secureStore(insecureSkipVerify: true)
        await expectRegistryError(.connection) {
            _ = try await store.blob(Descriptor(mediaType: "application/octet-stream", digest: try Digest.parse(blob.digest), size: blob.size),
                                     in: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), deadline: soon())
        }
        #expect(plain.requests.isEmpty, "the http location was never contacted")
        await registry.stop()
        await plain.stop()
    }

    @Test func credentialsDoNotFollowARedirectToAnotherHost() async throws {
        let registry = try ReferrersTestRegistry(basicAuth: (user: "bob", password: "secret")), storage = try ReferrersTestRegistry()
        let image = try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("app", tag: "v1")
        let blob = try registry.pushBlob("app", Array("layer".utf8))
        _ = try storage.pushBlob("app", Array("layer".utf8))
        registry.redirect("/v2/app/blobs/\(blob.digest)", to: "http://\(storage.host)/v2/app/blobs/\(blob.digest)")
        let store = makeStore(credentials: DockerConfigCredentials(entries: [registry.host: RegistryCredential(username: "bob", password: "secret")]))
        let bytes = try await store.blob(Descriptor(mediaType: "application/octet-stream", digest: try Digest.parse(blob.digest), size: blob.size),
                                         in: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), deadline: soon())
        #expect(bytes == Array("layer".utf8))
        #expect(registry.authorizations.contains { $0 == registry.requiredAuthorization }, "the registry got its credentials")
        #expect(storage.authorizations == [nil], "the storage host got none: \(storage.authorizations)")
        await registry.stop()
        await storage.stop()
    }
}
