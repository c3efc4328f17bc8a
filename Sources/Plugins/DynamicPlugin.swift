import Core
import Foundation
import Registry

/// Ratify's dynamic plugins (`featureFlags.RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS`): a Verifier or
/// Store with `source.artifact` names an OCI artifact whose first layer is the plugin
/// executable; it is pulled into the plugin directory as `<type or name>` before the plugin is
/// resolved. Beyond Ratify: the artifact is pinned to the digest its reference resolves to (the
/// digest is reported back), the layer is size-bounded and digest-checked, the file is
/// written to a temporary name and renamed into place (a running plugin is never overwritten
/// half-way), and with the flag off the source is refused with that reason.
public enum DynamicPlugin {
    public static let featureFlag = "RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS"
    /// Plugin executables are larger than anything else we pull; still bounded.
    public static let maxPluginBytes = 128 << 20

    /// The chart renders feature flags as "1"/"0" (Ratify reads only "1"); "true" is accepted too.
    public static func enabled(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment[featureFlag]?.lowercased() else { return false }
        return value == "1" || value == "true"
    }

    public struct Installed: Sendable, Equatable {
        /// The artifact's manifest digest the reference resolved to.
        public var digest: Digest
        public var path: String
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public init(_ message: String) { self.message = message }
        public var description: String { "DOWNLOAD_PLUGIN_FAILURE: \(message)" }
    }

    /// Pulls `artifact` (`registry/repository:tag` or `@digest`) through `store` and installs its
    /// first layer as `directory/name`.
    public static func install(artifact: String, as name: String, into directory: String, store: ORASStore,
                               deadline: ContinuousClock.Instant) async throws(Failure) -> Installed {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw Failure("plugin name \"\(name)\" is not a plain file name") }
        let reference: ImageReference
        do { reference = try ImageReference.parse(artifact) } catch { throw Failure("source.artifact \"\(artifact)\": \(error)") }
        let bytes: [UInt8], digest: Digest
        do {
            let descriptor = try await store.resolve(reference, deadline: deadline)
            let pinned = reference.pinned(to: descriptor.digest)
            let (manifest, _) = try await store.manifest(descriptor, in: pinned, deadline: deadline)
            guard !manifest.isIndex else { throw Failure("\(artifact) is an index (\(manifest.mediaType)); name one platform's manifest") }
            guard let layer = manifest.layers.first else { throw Failure("\(artifact) (\(descriptor.digest)) has no layers") }
            guard layer.size <= maxPluginBytes else { throw Failure("\(artifact)'s plugin layer is \(layer.size) bytes; the limit is \(maxPluginBytes)") }
            bytes = try await store.blob(layer, in: pinned, deadline: deadline)
            digest = descriptor.digest
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("cannot pull \(artifact): \(error)")
        }
        let files = FileManager.default
        do { try files.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw Failure("cannot create the plugin directory \(directory): \(error.localizedDescription)")
        }
        let target = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        let temporary = URL(fileURLWithPath: directory).appendingPathComponent(".\(name).download-\(UUID().uuidString)").path
        guard !bytes.isEmpty else { throw Failure("\(artifact)'s plugin layer is empty") }
        // Written from the pulled bytes without another in-memory copy (plugins are large).
        let written = bytes.withUnsafeBytes { buffer in
            files.createFile(atPath: temporary, contents: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: buffer.baseAddress!), count: buffer.count, deallocator: .none),
                             attributes: [.posixPermissions: 0o700])
        }
        guard written else { throw Failure("cannot write \(temporary)") }
        guard rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            try? files.removeItem(atPath: temporary)
            throw Failure("cannot install \(target): \(reason)")
        }
        return Installed(digest: digest, path: target)
    }
}
