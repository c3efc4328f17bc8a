import Foundation
import JSON
import Registry
import Synchronization

/// Builds the credential provider a store's `authProvider` names, and keeps it for the life of
/// the process: a configuration reload that names the same provider keeps its cached tokens (and
/// its refresh schedule) instead of asking the identity provider again.
public enum CloudCredentials {
    private static let pool = Mutex<[String: any CredentialProvider]>([:])

    public static func provider(_ authProvider: JSONValue, plainHTTP: Bool,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                http: CloudHTTP = CloudHTTP()) throws(RegistryError) -> any CredentialProvider {
        let key = JSONWriter.encodeString(authProvider) + (plainHTTP ? "|http" : "|https")
        if let existing = pool.withLock({ $0[key] }) { return existing }
        let made = try make(authProvider, plainHTTP: plainHTTP, environment: environment, http: http)
        return pool.withLock { pool in
            if let raced = pool[key] { return raced }
            if pool.count >= 32 { pool.removeAll() }
            pool[key] = made
            return made
        }
    }

    /// A new provider (not pooled).
    public static func make(_ auth: JSONValue, plainHTTP: Bool, environment: [String: String], http: CloudHTTP) throws(RegistryError) -> any CredentialProvider {
        let name = auth["name"]?.stringValue ?? ""
        func string(_ key: String) throws(RegistryError) -> String? {
            guard let value = auth[key], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw RegistryError(.invalidConfiguration, "authProvider.\(key) of \(name) must be a string") }
            return text
        }
        func strings(_ key: String) throws(RegistryError) -> [String] {
            guard let value = auth[key], !value.isNull else { return [] }
            guard let items = value.arrayValue?.compactMap(\.stringValue), items.count == value.arrayValue?.count else {
                throw RegistryError(.invalidConfiguration, "authProvider.\(key) of \(name) must be a list of strings")
            }
            return items
        }
        switch name {
        case "azureWorkloadIdentity":
            let identity = try AzureIdentity.workload(environment: environment, clientID: try string("clientID"), provider: name)
            return ACRCredentials(provider: name, identity: identity, hosts: try RegistryHostPatterns(try strings("endpoints"), provider: name),
                                  http: http, plainHTTP: plainHTTP)
        case "azureManagedIdentity":
            let identity = AzureIdentity.managed(environment: environment, clientID: try string("clientID"))
            return ACRCredentials(provider: name, identity: identity, hosts: try RegistryHostPatterns(try strings("endpoints"), provider: name),
                                  http: http, plainHTTP: plainHTTP)
        case "awsEcrBasic":
            return ECRCredentials(identity: try AWSWebIdentity.fromEnvironment(environment), http: http)
        case "alibabacloudAcrBasic":
            return try AlibabaACRCredentials(parameters: auth, environment: environment, http: http)
        default:
            throw RegistryError(.invalidConfiguration, "authProvider.name \"\(name)\" is not a cloud identity provider")
        }
    }
}
