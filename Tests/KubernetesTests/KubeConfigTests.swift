import Foundation
import JSON
import Kubernetes
import Testing

@Suite struct KubeConfigTests {
    func document(user: String, cluster: String = #""server":"https://10.0.0.1:6443","certificate-authority-data":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==""#) throws -> JSONValue {
        try JSONParser.parse(#"""
        {"apiVersion":"v1","kind":"Config","current-context":"dev",
         "contexts":[{"name":"dev","context":{"cluster":"c","user":"u"}},{"name":"other","context":{"cluster":"c2","user":"u"}}],
         "clusters":[{"name":"c","cluster":{\#(cluster)}},{"name":"c2","cluster":{"server":"https://other:443","insecure-skip-tls-verify":true}}],
         "users":[{"name":"u","user":{\#(user)}}]}
        """#)
    }

    @Test func readsTheCurrentContextsServerCAAndToken() throws {
        let connection = try KubeConnection.kubeconfig(try document(user: #""token":"abc""#), source: "kubeconfig")
        #expect(connection.server == "https://10.0.0.1:6443")
        #expect(connection.token == "abc")
        let ca = try #require(connection.caFile)
        #expect(try String(contentsOfFile: ca, encoding: .utf8) == "-----BEGIN CERTIFICATE-----\n")
        let other = try KubeConnection.kubeconfig(try document(user: #""token":"abc""#), source: "kubeconfig", context: "other")
        #expect(other.server == "https://other:443" && other.insecureSkipVerify)
    }

    @Test func tokenFilesAreReadAndOtherAuthIsRefusedWithTheReason() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try KubeConnection.kubeconfig(try document(user: #""tokenFile":"\#(file)""#), source: "k").token == "from-file")
        do {
            _ = try KubeConnection.kubeconfig(try document(user: #""client-certificate-data":"AAAA","client-key-data":"AAAA""#), source: "k")
            Issue.record("client certificates are not supported")
        } catch {
            #expect((error as? KubeError)?.message.contains("needs a bearer token") == true)
        }
        do {
            _ = try KubeConnection.kubeconfig(try document(user: #""token":"a""#), source: "k", context: "missing")
            Issue.record("an unknown context must be refused")
        } catch {
            #expect((error as? KubeError)?.message == "k: no context missing found")
        }
    }
}
