import CloudIdentity
import Core
import Foundation
import HTTPClient
import JSON
import Registry
import Testing
import TestSupport

/// Every suite that starts cloud doubles (a docker-registry and a Python double each; botocore's
/// import alone is a CPU-second) runs one test at a time: started together they starved the rest
/// of the run on a 2-core machine.
@Suite(.serialized) enum CloudDoublesTests {}

extension CloudDoublesTests {
/// Each cloud auth provider against its test double (cloud_doubles.py: Entra ID, IMDS, ACR's
/// exchange and token endpoints, STS + ECR with botocore's signer checking SigV4, Alibaba STS + ACR
/// with ACS3 checked) in front of a real docker-registry: with only the provider configured the
/// store resolves, lists referrers and reads blobs; without it the registry refuses.
/// Serialized: each test starts a docker-registry and a Python double (botocore's import alone is
/// a CPU-second), and nine at once starved the rest of the run on a 2-core machine.
@Suite struct CloudProviderTests {
    static let http = CloudHTTP(requestTimeout: .seconds(20))

    struct Fixture {
        let doubles: CloudDoubles
        let image: PushedContent
        let signature: PushedContent
    }

    static func fixture(_ auth: String) async throws -> Fixture {
        try await offPool {
            let doubles = try CloudDoubles(registryAuth: auth)
            let oci = OCIFixtures(pusher: doubles.registry, maintainTagSchema: true)
            let image = try oci.pushImage("team/app", tag: "v1")
            let signature = try oci.attach("team/app", to: image, artifactType: "application/vnd.cncf.notary.signature",
                                           layers: [(mediaType: "application/jose+json", bytes: Array("{}".utf8))])
            return Fixture(doubles: doubles, image: image, signature: signature)
        }
    }

    /// What a verification does with the store: resolve, list referrers, read the signature.
    static func walk(_ store: ORASStore, _ reference: String, expecting fixture: Fixture) async throws {
        do {
            try await walkOnce(store, reference, expecting: fixture)
        } catch {
            // Seen once under CI load: an HTTP 501 for a manifest HEAD. Say what the double saw.
            Issue.record("walk of \(reference) failed: \(error)\ndouble.log: \(fixture.doubles.output.suffix(3000))\nlast requests:\n\(fixture.doubles.lastRequests(12))")
            throw error
        }
    }

    static func walkOnce(_ store: ORASStore, _ reference: String, expecting fixture: Fixture) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        let ref = try ImageReference.parse(reference)
        let descriptor = try await store.resolve(ref, deadline: deadline)
        #expect(descriptor.digest.description == fixture.image.digest)
        let referrers = try await store.referrers(of: ref.pinned(to: descriptor.digest), artifactTypes: nil, deadline: deadline)
        #expect(referrers.map(\.digest.description) == [fixture.signature.digest])
        let (manifest, _) = try await store.manifest(referrers[0], in: ref, deadline: deadline)
        let blob = try await store.blob(manifest.layers[0], in: ref, deadline: deadline)
        #expect(blob == Array("{}".utf8))
    }

    static func store(_ credentials: any CredentialProvider) -> ORASStore {
        var options = ORASStoreOptions()
        options.useHttp = true
        options.cacheEnabled = false
        return ORASStore(options: options, credentials: credentials)
    }

    // MARK: Azure

    func workloadEnvironment(_ doubles: CloudDoubles) -> [String: String] {
        ["AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47", "AZURE_CLIENT_ID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11",
         "AZURE_FEDERATED_TOKEN_FILE": doubles.serviceAccountToken.path, "AZURE_AUTHORITY_HOST": doubles.url]
    }

    @Test func azureWorkloadIdentityReachesACR() async throws {
        let fixture = try await Self.fixture("acr")
        let doubles = fixture.doubles
        let auth: JSONValue = ["name": "azureWorkloadIdentity", "endpoints": .array([.string(doubles.address)])]
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: workloadEnvironment(doubles), http: Self.http)
        try await Self.walk(Self.store(credentials), "\(doubles.address)/team/app:v1", expecting: fixture)
        // One Entra ID token, one exchange, then token requests per repository scope.
        #expect(doubles.requests("entra").count == 1)
        #expect(doubles.requests("entra").first?["scope"]?.stringValue == "https://containerregistry.azure.net/.default")
        #expect(doubles.requests("acr-exchange").count == 1)
        #expect(doubles.requests("acr-token").allSatisfy { $0["grant"]?.stringValue == "refresh_token" })
        // Without the provider the registry refuses.
        await #expect(throws: RegistryError.self) {
            _ = try await Self.store(AnonymousCredentials()).resolve(try ImageReference.parse("\(doubles.address)/team/app:v1"), deadline: .now + .seconds(30))
        }
        doubles.stop()
    }

    @Test func aHostOutsideTheEndpointsGetsNoAzureToken() async throws {
        let doubles = try await offPool { try CloudDoubles(registryAuth: "acr") }
        let auth: JSONValue = ["name": "azureWorkloadIdentity"]  // default: *.azurecr.io, .us, .cn
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: workloadEnvironment(doubles), http: Self.http)
        #expect(try await credentials.credential(for: doubles.address, deadline: .now + .seconds(30)) == nil)
        #expect(doubles.requests("entra").isEmpty)
        #expect(RegistryHostPatterns.defaultACR == ["*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"])
        let patterns = try RegistryHostPatterns([], provider: "t")
        #expect(patterns.matches("myacr.azurecr.io") && !patterns.matches("a.b.azurecr.io") && !patterns.matches("azurecr.io.evil.com"))
        #expect(throws: RegistryError.self) { try RegistryHostPatterns(["a.*.io"], provider: "t") }
        #expect(throws: RegistryError.self) { try RegistryHostPatterns(["*.*.io"], provider: "t") }
        doubles.stop()
    }

    @Test func entraRefusalsCarryTheirReason() async throws {
        let fixture = try await Self.fixture("acr")
        let doubles = fixture.doubles
        var environment = workloadEnvironment(doubles)
        environment["AZURE_CLIENT_ID"] = "00000000-1111-2222-3333-444444444444"
        let auth: JSONValue = ["name": "azureWorkloadIdentity", "endpoints": .array([.string(doubles.address)])]
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: environment, http: Self.http)
        do {
            _ = try await Self.store(credentials).resolve(try ImageReference.parse("\(doubles.address)/team/app:v1"), deadline: .now + .seconds(30))
            Issue.record("resolved without a usable identity")
        } catch let error as RegistryError {
            #expect(error.code == .credentialProvider)
            #expect(error.message.contains("AADSTS700016"))
        }
        // Missing webhook variables are named at load.
        #expect(throws: RegistryError.self) {
            _ = try CloudCredentials.make(auth, plainHTTP: true, environment: [:], http: Self.http)
        }
        doubles.stop()
    }

    @Test func azureManagedIdentityUsesIMDS() async throws {
        let fixture = try await Self.fixture("acr")
        let doubles = fixture.doubles
        try doubles.set("azure", "managedClientID", "5b4f0d3c-0000-4000-8000-00000000abcd")
        let auth: JSONValue = ["name": "azureManagedIdentity", "clientID": "5b4f0d3c-0000-4000-8000-00000000abcd",
                               "endpoints": .array([.string(doubles.address)])]
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: ["AZURE_POD_IDENTITY_AUTHORITY_HOST": doubles.url], http: Self.http)
        try await Self.walk(Self.store(credentials), "\(doubles.address)/team/app:v1", expecting: fixture)
        let imds = doubles.requests("imds")
        #expect(imds.count == 1)
        #expect(imds.first?["resource"]?.stringValue == "https://containerregistry.azure.net")
        #expect(imds.first?["client_id"]?.stringValue == "5b4f0d3c-0000-4000-8000-00000000abcd")
        doubles.stop()
    }

    /// Entra ID and ACR refresh tokens of 15 s (refreshed in the background from 12 s on, handed
    /// out until 13.5 s) and ACR access tokens of 12 s, over a 35 s run: every walk succeeds.
    @Test func expiringAzureTokensAreRefreshedWithoutAFailure() async throws {
        let fixture = try await Self.fixture("acr")
        let doubles = fixture.doubles
        try doubles.set("azure", "tokenLifetime", 15)
        try doubles.set("azure", "refreshLifetime", 15)
        try doubles.set("azure", "accessLifetime", 12)
        let auth: JSONValue = ["name": "azureWorkloadIdentity", "endpoints": .array([.string(doubles.address)])]
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: workloadEnvironment(doubles), http: Self.http)
        let store = Self.store(credentials)
        let started = ContinuousClock.now
        var rounds = 0
        while ContinuousClock.now - started < .seconds(35) {
            try await Self.walk(store, "\(doubles.address)/team/app:v1", expecting: fixture)
            rounds += 1
            try await Task.sleep(for: .seconds(1))
        }
        #expect(rounds >= 10)
        #expect(doubles.requests("entra").count >= 2)
        #expect(doubles.requests("acr-exchange").count >= 2)
        doubles.stop()
    }

    // MARK: AWS

    func awsEnvironment(_ doubles: CloudDoubles) -> [String: String] {
        ["AWS_REGION": "us-west-2", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ratify-ecr",
         "AWS_WEB_IDENTITY_TOKEN_FILE": doubles.serviceAccountToken.path,
         "AWS_ENDPOINT_URL_STS": doubles.url, "AWS_ENDPOINT_URL_ECR": doubles.url]
    }

    /// The registry is reached by its ECR name (`<account>.dkr.ecr.<region>.amazonaws.com`),
    /// which curl's connect-to sends to the double on loopback.
    static func ecrHost(_ doubles: CloudDoubles, account: String = "123456789012") -> String {
        let host = "\(account).dkr.ecr.us-west-2.amazonaws.com"
        ConnectTo.add(["\(host):80:127.0.0.1:\(doubles.port)"])
        return host
    }

    @Test func awsWebIdentityReachesECRWithSigV4() async throws {
        let fixture = try await Self.fixture("ecr")
        let doubles = fixture.doubles
        let host = Self.ecrHost(doubles, account: "123456789012")
        let credentials = try CloudCredentials.make(["name": "awsEcrBasic"], plainHTTP: true, environment: awsEnvironment(doubles), http: Self.http)
        try await Self.walk(Self.store(credentials), "\(host)/team/app:v1", expecting: fixture)
        #expect(doubles.requests("sts").count == 1)
        #expect(doubles.requests("ecr").count == 1)
        // Hosts that are not ECR's get nothing from this provider.
        #expect(try await credentials.credential(for: "ghcr.io", deadline: .now + .seconds(5)) == nil)
        #expect(ECRRegistry.parse("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com")?.apiEndpoint == "https://ecr-fips.us-gov-west-1.amazonaws.com")
        #expect(ECRRegistry.parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")?.apiEndpoint == "https://api.ecr.cn-north-1.amazonaws.com.cn")
        #expect(ECRRegistry.parse("123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io") == nil)
        #expect(throws: RegistryError.self) { _ = try CloudCredentials.make(["name": "awsEcrBasic"], plainHTTP: true, environment: [:], http: Self.http) }
        doubles.stop()
    }

    /// The double's clock runs 40 minutes ahead: the first signature is refused as expired, the
    /// provider re-signs with the clock the refusal's Date shows, and the token lives as long as
    /// the service said — measured on the service's clock, not ours.
    @Test func ecrClockSkewIsCorrected() async throws {
        let fixture = try await Self.fixture("ecr")
        let doubles = fixture.doubles
        try doubles.setTop("clockSkewSeconds", .number("2400"))
        let host = Self.ecrHost(doubles, account: "210987654321")
        let credentials = try CloudCredentials.make(["name": "awsEcrBasic"], plainHTTP: true, environment: awsEnvironment(doubles), http: Self.http)
        try await Self.walk(Self.store(credentials), "\(host)/team/app:v1", expecting: fixture)
        #expect(doubles.requests("ecr").count == 2)
        let left = await (credentials as! ECRCredentials).tokens.remaining(for: host)
        #expect(left.map { $0 > .seconds(11 * 3600) && $0 <= .seconds(12 * 3600) } == true, "\(String(describing: left))")
        doubles.stop()
    }

    // Tokens lapsing mid-run with ECR: CloudProviderServeTests, through `ratify serve`.

    // MARK: Alibaba Cloud

    @Test func alibabaRRSAReachesACREnterprise() async throws {
        let fixture = try await Self.fixture("alibaba")
        let doubles = fixture.doubles
        let host = "ratify-registry.cn-hangzhou.cr.aliyuncs.com"
        ConnectTo.add(["\(host):80:127.0.0.1:\(doubles.port)"])
        let environment = ["ALIBABA_CLOUD_ROLE_ARN": "acs:ram::1234567890123456:role/ratify",
                           "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::1234567890123456:oidc-provider/ack-rrsa",
                           "ALIBABA_CLOUD_OIDC_TOKEN_FILE": doubles.serviceAccountToken.path,
                           "ALIBABA_CLOUD_STS_ENDPOINT": doubles.url, "ALIBABA_CLOUD_CR_ENDPOINT": doubles.url]
        let auth: JSONValue = ["name": "alibabacloudAcrBasic", "defaultInstanceId": "cri-other",
                               "acrInstancesConfig": [["instanceName": "ratify", "instanceId": "cri-ratifytest01"]]]
        let credentials = try CloudCredentials.make(auth, plainHTTP: true, environment: environment, http: Self.http)
        try await Self.walk(Self.store(credentials), "\(host)/team/app:v1", expecting: fixture)
        #expect(doubles.requests("alibaba-sts").count == 1)
        #expect(doubles.requests("alibaba-cr").first?["instance"]?.stringValue == "cri-ratifytest01")
        let vpc = try AlibabaRegistry.parse("registry-vpc.cn-beijing.aliyuncs.com")
        #expect(vpc.instanceName == "" && vpc.region == "cn-beijing")
        #expect(try AlibabaRegistry.parse("ratify-registry-vpc.cn-hangzhou.cr.aliyuncs.com").instanceName == "ratify")
        #expect(throws: RegistryError.self) { try AlibabaRegistry.parse("registry.example.com") }
        #expect(throws: RegistryError.self) { _ = try CloudCredentials.make(["name": "alibabacloudAcrBasic"], plainHTTP: true, environment: environment, http: Self.http) }
        doubles.stop()
    }
}
}

extension CloudDoublesTests {
/// `ratify verify` (the real binary) against each provider's double with a cosign-signed image:
/// the configuration names only the auth provider — no docker config, no secret — and the
/// environment is what the cloud's webhook would inject.
@Suite struct CloudProviderCLITests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/ratify").path

    struct Case: Sendable, CustomStringConvertible {
        let auth: String
        let provider: String
        var description: String { provider }
    }

    @Test(arguments: [Case(auth: "acr", provider: "azureWorkloadIdentity"), Case(auth: "acr", provider: "azureManagedIdentity"),
                      Case(auth: "ecr", provider: "awsEcrBasic"), Case(auth: "alibaba", provider: "alibabacloudAcrBasic")])
    func verifiesAPrivateRegistryWithOnlyTheProvider(_ test: Case) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let doubles = try await offPool { try CloudDoubles(registryAuth: test.auth) }
        defer { doubles.stop() }
        let key = try await offPool { () -> String in
            let oci = OCIFixtures(pusher: doubles.registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "signed")
            try oci.pushImage("app", tag: "unsigned")
            let work = doubles.directory
            try ProcessRunner.python(FixtureScripts.path("make_signatures.py"), [work.appendingPathComponent("cosign").path, image.digest])
            let signatures = try JSONParser.parse(Array(try Data(contentsOf: work.appendingPathComponent("cosign/signatures.json"))))
            try oci.pushCosignSignatures("app", for: image, layers: [(payload: Array(Data(base64Encoded: signatures["payload"]!.stringValue!)!),
                annotations: ["dev.cosignproject.cosign/signature": signatures["signatures"]!["ec256"]!.stringValue!])])
            return work.appendingPathComponent("cosign/ec256.pub").path
        }
        var environment: [String: String] = [:]
        var authProvider: JSONValue = ["name": .string(test.provider)]
        var host = doubles.address
        let token = doubles.serviceAccountToken.path
        switch test.provider {
        case "azureWorkloadIdentity":
            environment = ["AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47", "AZURE_CLIENT_ID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11",
                           "AZURE_FEDERATED_TOKEN_FILE": token, "AZURE_AUTHORITY_HOST": doubles.url + "/"]
            authProvider = ["name": "azureWorkloadIdentity", "endpoints": .array([.string(host)])]
        case "azureManagedIdentity":
            environment = ["AZURE_POD_IDENTITY_AUTHORITY_HOST": doubles.url]
            authProvider = ["name": "azureManagedIdentity", "endpoints": .array([.string(host)])]
        case "awsEcrBasic":
            host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
            environment = ["AWS_REGION": "us-west-2", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ratify-ecr",
                           "AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ENDPOINT_URL_STS": doubles.url, "AWS_ENDPOINT_URL_ECR": doubles.url,
                           "RATIFY_CONNECT_TO": "\(host):80:127.0.0.1:\(doubles.port)"]
        default:
            host = "ratify-registry.cn-hangzhou.cr.aliyuncs.com"
            environment = ["ALIBABA_CLOUD_ROLE_ARN": "acs:ram::1234567890123456:role/ratify",
                           "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::1234567890123456:oidc-provider/ack-rrsa",
                           "ALIBABA_CLOUD_OIDC_TOKEN_FILE": token, "ALIBABA_CLOUD_STS_ENDPOINT": doubles.url, "ALIBABA_CLOUD_CR_ENDPOINT": doubles.url,
                           "RATIFY_CONNECT_TO": "\(host):80:127.0.0.1:\(doubles.port)"]
            authProvider = ["name": "alibabacloudAcrBasic", "defaultInstanceId": "cri-ratifytest01"]
        }
        func config(_ authProvider: JSONValue?) throws -> String {
            var store: JSONObject = ["name": "oras", "useHttp": true, "cosignEnabled": true]
            if let authProvider { store["authProvider"] = authProvider }
            let document: JSONValue = [
                "store": ["version": "1.0.0", "plugins": [.object(store)]],
                "policy": ["version": "1.0.0", "plugin": ["name": "configPolicy", "artifactVerificationPolicies": ["default": "all"]]],
                "verifier": ["version": "1.0.0", "plugins": [["name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
                    "trustPolicies": [["name": "default", "version": "1.0.0", "scopes": ["*"], "keys": [["file": .string(key)]], "tLogVerify": false]]]]],
            ]
            let file = doubles.directory.appendingPathComponent("ratify-\(UUID().uuidString).json").path
            try Data(JSONWriter.encode(document)).write(to: URL(fileURLWithPath: file))
            return file
        }
        let withProvider = try config(authProvider), without = try config(nil)
        let env = environment.map { "\($0.key)=\($0.value)" }
        let target = host
        let (pass, unsigned, anonymous) = try await offPool {
            (try ProcessRunner.run("/usr/bin/env", env + [Self.binary, "verify", "-c", withProvider, "-s", "\(target)/app:signed"]),
             try ProcessRunner.run("/usr/bin/env", env + [Self.binary, "verify", "-c", withProvider, "-s", "\(target)/app:unsigned", "-o", "text"]),
             try ProcessRunner.run("/usr/bin/env", env + [Self.binary, "verify", "-c", without, "-s", "\(target)/app:signed", "-o", "text"]))
        }
        #expect(pass.status == 0, "\(pass.output)")
        #expect(try JSONParser.parse(pass.output)["isSuccess"] == true)
        #expect(unsigned.status == 1)
        #expect(unsigned.output.contains("REFERRERS_NOT_FOUND"), "\(unsigned.output)")
        #expect(anonymous.status != 0)
        #expect(anonymous.output.contains("401") || anonymous.output.contains("UNAUTHORIZED") || anonymous.output.contains("requires credentials"), "\(anonymous.output)")
    }
}
}

extension CloudDoublesTests {
/// `ratify serve` with only `awsEcrBasic` configured, admitting a new image every 3 s for 36 s
/// while the double issues ECR tokens of 10 s and STS sessions of 14 s: every verification
/// passes, the tokens are fetched again as they lapse.
@Suite struct CloudProviderServeTests {
    @Test func tokensExpiringMidRunAreRefreshedWithoutAFailedVerification() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CloudDoublesTests.CloudProviderCLITests.binary), "build the ratify binary first (make build)")
        let doubles = try await offPool { try CloudDoubles(registryAuth: "ecr") }
        defer { doubles.stop() }
        try doubles.set("aws", "tokenLifetime", 10)
        try doubles.set("aws", "sessionLifetime", 14)
        let host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
        let images = 12
        let key = try await offPool { () -> String in
            let oci = OCIFixtures(pusher: doubles.registry, maintainTagSchema: true)
            let work = doubles.directory
            var key = ""
            for index in 0..<images {
                let image = try oci.pushImage("app", tag: "v\(index)")
                let dir = work.appendingPathComponent("cosign-\(index)")
                try ProcessRunner.python(FixtureScripts.path("make_signatures.py"), [dir.path, image.digest])
                let signatures = try JSONParser.parse(Array(try Data(contentsOf: dir.appendingPathComponent("signatures.json"))))
                try oci.pushCosignSignatures("app", for: image, layers: [(payload: Array(Data(base64Encoded: signatures["payload"]!.stringValue!)!),
                    annotations: ["dev.cosignproject.cosign/signature": signatures["signatures"]!["ec256"]!.stringValue!])])
                key = dir.appendingPathComponent("ec256.pub").path
            }
            return key
        }
        // make_signatures.py makes a fresh key per run: trust every image's key.
        let keys: [JSONValue] = (0..<images).map { ["file": .string(doubles.directory.appendingPathComponent("cosign-\($0)/ec256.pub").path)] }
        _ = key
        let config: JSONValue = [
            "store": ["version": "1.0.0", "plugins": [["name": "oras", "useHttp": true, "cosignEnabled": true, "authProvider": ["name": "awsEcrBasic"]]]],
            "policy": ["version": "1.0.0", "plugin": ["name": "configPolicy", "artifactVerificationPolicies": ["default": "all"]]],
            "verifier": ["version": "1.0.0", "plugins": [["name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
                "trustPolicies": [["name": "default", "version": "1.0.0", "scopes": ["*"], "keys": .array(keys), "tLogVerify": false]]]]],
            "executor": ["verificationRequestTimeout": 20000],
        ]
        let file = doubles.directory.appendingPathComponent("ratify-config.json")
        try Data(JSONWriter.encode(config)).write(to: file)
        let port = try freePort()
        let children = ChildProcesses()
        defer { children.stopAll() }
        try children.start(CloudDoublesTests.CloudProviderCLITests.binary, ["serve", "--http", "127.0.0.1:\(port)", "--health-port", "127.0.0.1:\(try freePort())",
                                                          "--metrics-port", "off", "-c", file.path],
                           log: doubles.directory.appendingPathComponent("ratify.log").path,
                           environment: ["AWS_REGION": "us-west-2", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ratify-ecr",
                                         "AWS_WEB_IDENTITY_TOKEN_FILE": doubles.serviceAccountToken.path,
                                         "AWS_ENDPOINT_URL_STS": doubles.url, "AWS_ENDPOINT_URL_ECR": doubles.url,
                                         "RATIFY_CONNECT_TO": "\(host):80:127.0.0.1:\(doubles.port)"])
        try await offPool { try waitForPort(port, timeout: 30) }
        var verdicts: [Bool?] = []
        for index in 0..<images {
            let body = #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["\#(host)/app:v\#(index)"]}}"#
            let response = try await offPool {
                try CurlSession().perform(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(port)/ratify/gatekeeper/v1/verify",
                                                            headers: [("Content-Type", "application/json")], body: Array(body.utf8)), timeout: .seconds(30))
            }
            let item = try JSONParser.parse(response.body)["response"]?["items"]?.arrayValue?.first
            verdicts.append(item?["value"]?["isSuccess"]?.boolValue)
            if item?["value"]?["isSuccess"]?.boolValue != true {
                Issue.record("v\(index): \(String(decoding: response.body, as: UTF8.self).prefix(600))\ndouble: \(doubles.output.suffix(1500))\nrequests: \(doubles.requests("registry").count)")
            }
            try await Task.sleep(for: .seconds(3))
        }
        #expect(verdicts == Array(repeating: true, count: images))
        #expect(doubles.requests("ecr").count >= 3, "ECR tokens fetched again as they lapsed")
        #expect(doubles.requests("sts").count >= 2, "STS sessions renewed")
    }
}
}
