import Core
import Foundation
import Logging
import Synchronization

/// Watches the config file and swaps in a new executor when it changes and loads — JSON or
/// YAML, read exactly as at start; a file that does not load is logged and the previous
/// executor keeps serving.
public final class ConfigReloader: Sendable {
    private let path: String
    private let holder: ExecutorHolder
    private let build: @Sendable (RatifyConfig, UInt64) throws(ConfigurationError) -> any ProviderExecutor
    private let logger: Logger
    private let lastContent: Mutex<Data?>
    private let poller = Mutex<PollingThread?>(nil)

    public init(path: String, holder: ExecutorHolder, logger: Logger,
                build: @escaping @Sendable (RatifyConfig, UInt64) throws(ConfigurationError) -> any ProviderExecutor) {
        self.path = path
        self.holder = holder
        self.build = build
        self.logger = logger
        lastContent = Mutex(FileManager.default.contents(atPath: path))
    }

    /// Checks the file once; returns true when a new configuration was installed.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let content = FileManager.default.contents(atPath: path)
        let changed = lastContent.withLock { last in
            defer { last = content }
            return last != content
        }
        guard changed else { return false }
        guard let content else {
            logger.error("config file \(path) disappeared; still serving the previous configuration")
            return false
        }
        do {
            let config = try RatifyConfig.read(Array(content), path: path)
            let generation = holder.generation + 1
            let executor = try build(config, generation)
            // The file's request deadlines apply from the next request (absent: Ratify's defaults).
            let timeouts = RequestTimeouts(verification: config.verificationRequestTimeout ?? RatifyConfig.defaultVerificationTimeout,
                                           mutation: config.mutationRequestTimeout ?? RatifyConfig.defaultMutationTimeout)
            holder.replace(with: executor, timeouts: timeouts)
            for warning in config.warnings { logger.warning("\(warning)") }
            logger.info("configuration reloaded", metadata: ["config": "\(path)", "generation": "\(holder.generation)",
                "verificationRequestTimeout": "\(timeouts.verification!.milliseconds)ms", "mutationRequestTimeout": "\(timeouts.mutation!.milliseconds)ms"])
            return true
        } catch {
            logger.error("configuration change refused; still serving the previous configuration", metadata: ["error": "\(error)"])
            return false
        }
    }

    public func start(interval: Duration) {
        let thread = PollingThread(name: "ratify-config-reload", interval: interval) { [weak self] in
            guard let self else { return false }
            self.reloadIfChanged()
            return true
        }
        poller.withLock { $0?.stop(); $0 = thread }
    }

    public func stop() { poller.withLock { $0?.stop(); $0 = nil } }

    deinit { poller.withLock { $0?.stop() } }
}
