import Foundation

/// Where plugin executables live, as Ratify resolves it: a verifier's `address` (or the
/// config's `pluginBinDirs`) when given, else `$RATIFY_CONFIG/plugins`, else
/// `~/.ratify/plugins` (Ratify's image: `/.ratify/plugins`). Ratify's notation plugin manager
/// and its own plugins (and dynamic plugin downloads) share it.
public enum PluginDirectory {
    public static func resolve(_ configured: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let configured, !configured.isEmpty { return configured }
        if let root = environment["RATIFY_CONFIG"], !root.isEmpty {
            return URL(fileURLWithPath: root).appendingPathComponent("plugins").path
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".ratify/plugins").path
    }
}
