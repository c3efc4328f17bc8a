import ArgumentParser
import Configuration
import Core
import Dispatch
import Foundation
import HTTPClient
import HTTPServer
import Kubernetes
import Logging
import Observability
import RatifyServer
import Registry
import SharedCache
import Synchronization
import TLS

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Gatekeeper external data provider (HTTPS), health and metrics listeners.")

    @Option(name: .customLong("http"), help: "Provider listen address (Ratify's --http).")
    var httpAddress = ":6001"

    @Option(name: [.customShort("c"), .customLong("config")], help: "Ratify config.json; the embedded default when omitted.")
    var configPath: String?

    @Option(help: "Directory holding tls.crt and tls.key (Ratify's --cert-dir).")
    var certDir: String?

    @Option(help: "Server certificate chain (PEM).")
    var tlsCertFile: String?

    @Option(help: "Server private key (PEM).")
    var tlsKeyFile: String?

    @Option(name: [.customLong("client-ca-file"), .customLong("ca-cert-file")],
            help: "CA bundle for client certificates; when set, clients without a certificate it signed are refused (mTLS).")
    var clientCAFile: String?

    @Option(help: "Health listen address for /healthz and /readyz.")
    var healthPort = ":9099"

    @Option(help: "Metrics listen address for /metrics (or a port, as Ratify's --metrics-port takes it); \"off\" disables it.")
    var metricsPort = ":8888"

    @Option(help: "Serve /metrics (Ratify's --metrics-enabled).")
    var metricsEnabled = true

    @Option(help: "Metrics exporter (Ratify's --metrics-type): prometheus.")
    var metricsType = "prometheus"

    @Option(help: "Cache verification results (Ratify's --cache-enabled).")
    var cacheEnabled = true

    @Option(help: "Result cache (Ratify's --cache-type): ristretto, the in-process cache.")
    var cacheType = "ristretto"

    @Option(help: "Dapr state store of Ratify's distributed cache (Ratify's --cache-name); accepted, not used: ratify talks to Redis itself (--redis-address).")
    var cacheName = "dapr-redis"

    @Option(help: "Redis shared by the replicas for --cache-type redis (or dapr): host:port or redis://[user:password@]host:port[/db] (default: $RATIFY_REDIS_ADDRESS).")
    var redisAddress: String?

    @Option(help: "File holding the Redis password (default: $RATIFY_REDIS_PASSWORD).")
    var redisPasswordFile: String?

    @Option(help: "File holding the secret (32 bytes or more) every replica seals shared cache entries with (default: $RATIFY_REDIS_KEY).")
    var redisKeyFile: String?

    @Option(help: "Milliseconds a Redis command may take before Redis counts as unavailable (then the local cache alone serves).")
    var redisTimeout = 100

    @Option(help: "Result cache size in MB (Ratify's --cache-size).")
    var cacheSize = 256

    @Option(help: "How long a verification result is reused, a Go duration (Ratify's --cache-ttl).")
    var cacheTtl = "10s"

    @Option(help: "How often to check the TLS files for rotation, in seconds.")
    var certWatchInterval: Double = 2

    @Option(help: "How often to check the config file for changes, in seconds.")
    var configWatchInterval: Double = 2

    @Option(help: "Largest request body accepted, in bytes.")
    var maxRequestBody = 4 * 1024 * 1024

    @Option(help: "Event loops for the provider listener, each on a thread shared with the registry requests of the verifications it starts.")
    var eventLoops = 2

    @Option(help: "Log level: trace, debug, info, warning, error.")
    var logLevel = "info"

    @Option(help: "Log format: text, json or logstash (overrides logger.formatter in the config).")
    var logFormat: String?

    @Option(help: "Mutation answer: keep-tag (registry/repo:tag@digest) or strip-tag (registry/repo@digest, as Ratify).")
    var mutationFormat = "keep-tag"

    @Flag(help: "Watch Ratify's Verifier/Store/Policy/KeyManagementProvider resources (and Namespaced variants) through the Kubernetes API; the config file then supplies only executor and logger settings.")
    var enableCrdManager = false

    @Option(help: "TUF mirror of the sigstore trust (e.g. https://tuf-repo-cdn.sigstore.dev): trusted_root.json is refreshed through it at start and periodically; unset, the root compiled into the binary.")
    var tufMirror: String?

    @Option(help: "TUF root.json the mirror's trust starts from (default: sigstore's, compiled in).")
    var tufRoot: String?

    @Option(help: "Directory for verified TUF metadata (default: $RATIFY_CONFIG/tuf, else ~/.ratify/tuf).")
    var tufCache: String?

    @Option(help: "Seconds between TUF refreshes.")
    var tufRefreshInterval: Double = 3600

    @Option(help: "Kubernetes API server URL for --enable-crd-manager outside a cluster (default: $KUBECONFIG / --kubeconfig, else the in-cluster service account).")
    var kubeApiServer: String?

    @Option(help: "kubeconfig for --enable-crd-manager outside a cluster (token users; its current context).")
    var kubeconfig: String?

    @Option(help: "File with the bearer token for --kube-api-server.")
    var kubeTokenFile: String?

    @Option(help: "PEM CA bundle for --kube-api-server.")
    var kubeCaFile: String?

    /// Large registry answers (a listing of 25,000 referrers is ~4.5 MB, parsed into more) are
    /// handled on the provider loops' lanes and on the pool. With glibc's moving mmap threshold,
    /// three rounds of three such listings left the process at 65–77 MiB for good (41–53 MiB
    /// when one I/O thread did this work); with a fixed 256 KiB threshold it settles at 42 MiB
    /// and stays (`make attack`, registry rounds). An operator's own `MALLOC_MMAP_THRESHOLD_` wins.
    static func tuneAllocator() {
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil else { return }
        ProcessMemory.mapAllocations(from: 256 * 1024)
    }

    func run() async throws {
        Self.tuneAllocator()
        var config: RatifyConfig
        var pluginMessages: (installed: [String], warnings: [String]) = ([], [])
        do {
            // Dynamic plugins named by the file are pulled before its verifiers are resolved.
            if let configPath { pluginMessages = try await PluginSources.installAll(in: try RatifyConfig.rawDocument(path: configPath)) }
            config = try RatifyConfig.load(path: configPath)
        } catch {
            throw ValidationError("\(error)")
        }
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let formatName = logFormat ?? config.logFormatter ?? "text"
        guard let format = LogFormat(rawValue: formatName) else {
            throw ValidationError("--log-format must be one of text, json, logstash")
        }
        LoggingSystem.bootstrap { RatifyLogHandler(label: $0, format: format, level: level) }
        let logger = Logger(label: "ratify")

        var kubeConnection: KubeConnection?
        if enableCrdManager {
            if let server = kubeApiServer {
                var token: String?
                if let file = kubeTokenFile {
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("--kube-token-file: cannot read \(file)") }
                    token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                kubeConnection = KubeConnection(server: server, token: token, caFile: kubeCaFile)
            } else if let file = kubeconfig ?? ProcessInfo.processInfo.environment["KUBECONFIG"]?.split(separator: ":").first.map(String.init) {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("--kubeconfig: cannot read \(file)") }
                do {
                    kubeConnection = try KubeConnection.kubeconfig(try YAMLConfig.parse(text, source: file), source: file)
                } catch let error as KubeError {
                    throw ValidationError("--kubeconfig: \(error.message)")
                } catch {
                    throw ValidationError("--kubeconfig: \(error)")
                }
            } else {
                do { kubeConnection = try KubeConnection.inCluster() } catch { throw ValidationError("--enable-crd-manager: \(error.message)") }
            }
        } else if kubeApiServer != nil || kubeTokenFile != nil || kubeCaFile != nil || kubeconfig != nil {
            throw ValidationError("--kube-api-server, --kube-token-file, --kube-ca-file and --kubeconfig need --enable-crd-manager")
        }
        let metrics = ServerMetrics()
        // The sigstore trust through TUF: refreshed before the verifiers are built, then kept current.
        var refresher: TrustRefresher?
        if let tufMirror {
            guard tufRefreshInterval > 0 else { throw ValidationError("--tuf-refresh-interval must be positive") }
            var initial: [UInt8]?
            if let tufRoot {
                guard let data = FileManager.default.contents(atPath: tufRoot) else { throw ValidationError("--tuf-root: cannot read \(tufRoot)") }
                initial = Array(data)
            }
            let home = ProcessInfo.processInfo.environment["RATIFY_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.ratify")
            let trust = TrustRefresher(mirror: tufMirror, initialRoot: initial, cacheDirectory: tufCache ?? home + "/tuf", logger: logger,
                                       onResult: { metrics.tufRefreshes.increment([$0 ? "success" : "failure"]) })
            if let digest = await trust.refreshOnce() {
                do { config = try RatifyConfig.load(path: configPath) } catch { throw ValidationError("\(error)") }
                trust.markApplied(digest)
            }
            refresher = trust
        }
        let options = try makeOptions(config: config)
        let resultCache: ResultCacheSettings
        do { resultCache = try ResultCacheSettings.parse(enabled: cacheEnabled, type: cacheType, sizeMB: cacheSize, ttl: cacheTtl) } catch {
            throw ValidationError(error.message)
        }
        let shared = try makeSharedCache(resultCache, metrics: metrics, logger: logger)
        guard let format = MutationExecutor.Format(flag: mutationFormat) else {
            throw ValidationError("--mutation-format must be keep-tag or strip-tag")
        }
        for warning in config.warnings + pluginMessages.warnings { logger.warning("\(warning)") }
        for installed in pluginMessages.installed { logger.info("downloaded plugin \(installed)") }
        let server: RatifyServer
        let reloader: ConfigReloader?
        var manager: CRDManager?
        do {
            let countRequest: StoreFactory.RequestObserver = { host, status in metrics.registryRequests.increment([String(status), host]) }
            let build: @Sendable (RatifyConfig, UInt64) throws(ConfigurationError) -> any ProviderExecutor = { config, generation throws(ConfigurationError) in
                try ExecutorFactory.make(config, generation: generation, onRegistryRequest: countRequest, logger: logger, mutationFormat: format,
                                         resultCache: resultCache, shared: shared)
            }
            let holder = ExecutorHolder(try build(config, 1))
            server = try RatifyServer(options: options, executor: holder, logger: logger, metrics: metrics)
            if let kubeConnection {
                // The resources decide what to verify with; the file is not watched.
                reloader = nil
                manager = CRDManager(client: KubeClient(connection: kubeConnection), base: config.document, holder: holder, logger: logger) {
                    config, providers, generation throws(ConfigurationError) in
                    try ExecutorFactory.make(config, generation: generation, onRegistryRequest: countRequest, logger: logger, mutationFormat: format,
                                             providers: providers, resultCache: resultCache, shared: shared)
                }
            } else {
                reloader = configPath.map { ConfigReloader(path: $0, holder: holder, logger: logger, build: build) }
            }
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        reloader?.start(interval: .milliseconds(Int(configWatchInterval * 1000)))
        manager?.start()
        // A new sigstore root applies through a rebuild: of the resources, or of the file.
        let rebuildManager = manager, path = configPath, holderForTrust = server.executor
        refresher?.start(interval: .milliseconds(Int(tufRefreshInterval * 1000))) { [logger] in
            // The manager reports a resource the new root breaks on that resource, as any rebuild.
            if let rebuildManager { await rebuildManager.rebuild(); return true }
            do {
                let fresh = try RatifyConfig.load(path: path)
                holderForTrust.replace(with: try ExecutorFactory.make(fresh, generation: holderForTrust.generation + 1, onRegistryRequest: { host, status in
                    metrics.registryRequests.increment([String(status), host]) }, logger: logger, mutationFormat: format, resultCache: resultCache, shared: shared))
                return true
            } catch {
                logger.error("cannot rebuild with the refreshed sigstore trusted root; still serving the previous configuration", metadata: ["error": "\(error)"])
                return false
            }
        }
        if options.tls == nil {
            logger.warning("serving plain HTTP: Gatekeeper requires HTTPS; pass --cert-dir or --tls-cert-file/--tls-key-file")
        }
        logger.info("starting server", metadata: [
            "address": "\(options.httpAddress.host):\(server.providerPort)",
            "tls": "\(options.tls != nil)", "mtls": "\(options.tls?.clientCAFile != nil)",
            "health": "\(options.healthAddress.host):\(server.healthPort)",
            "metrics": "\(server.metricsPort.map { "\(options.metricsAddress!.host):\($0)" } ?? "off")",
            "config": "\(configPath ?? "embedded default")",
        ])
        let signal = await Self.waitForTermination()
        logger.info("received \(signal), shutting down gracefully")
        reloader?.stop()
        manager?.stop()
        refresher?.stop()
        await server.shutdown(gracePeriod: .seconds(10))
        logger.info("server stopped")
    }

    /// The Redis every replica shares, for `--cache-type redis|dapr`; nil for the in-process cache.
    private func makeSharedCache(_ settings: ResultCacheSettings, metrics: ServerMetrics, logger: Logger) throws -> RedisSharedCache? {
        let environment = ProcessInfo.processInfo.environment
        guard settings.shared else {
            if redisAddress != nil || redisKeyFile != nil || redisPasswordFile != nil {
                throw ValidationError("--redis-address, --redis-key-file and --redis-password-file need --cache-type redis (or dapr)")
            }
            return nil
        }
        guard let address = redisAddress ?? environment["RATIFY_REDIS_ADDRESS"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw ValidationError("--cache-type \(cacheType) shares the cache through Redis: set --redis-address (or RATIFY_REDIS_ADDRESS), e.g. redis-master.gatekeeper-system:6379")
        }
        func secret(_ file: String?, _ variable: String, _ flag: String) throws -> [UInt8]? {
            if let file {
                guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(flag): cannot read \(file)") }
                return Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines).utf8)
            }
            return environment[variable].flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        }
        guard let key = try secret(redisKeyFile, "RATIFY_REDIS_KEY", "--redis-key-file") else {
            throw ValidationError("--cache-type \(cacheType): replicas authenticate shared entries with a secret they all hold: set --redis-key-file (or RATIFY_REDIS_KEY) from a Kubernetes Secret")
        }
        var redis: RedisSettings
        do { redis = try RedisSettings.parse(address: address, key: key) } catch { throw ValidationError(error.message) }
        if let password = try secret(redisPasswordFile, "RATIFY_REDIS_PASSWORD", "--redis-password-file") {
            redis.password = String(decoding: password, as: UTF8.self)
        }
        guard redisTimeout > 0 else { throw ValidationError("--redis-timeout must be a positive number of milliseconds") }
        redis.commandTimeout = .milliseconds(redisTimeout)
        redis.connectTimeout = .milliseconds(redisTimeout)
        let counter = metrics.sharedCache
        let lastWarning = Mutex<ContinuousClock.Instant?>(nil)
        logger.info("sharing the verification cache through redis", metadata: ["address": "\(redis.host):\(redis.port)"])
        return RedisSharedCache(settings: redis) { event, detail in
            counter.increment([event.rawValue])
            guard event == .rejected || (event == .unavailable && !detail.isEmpty) else { return }
            // At most one warning per 10 s: a broken or hostile Redis must not flood the log.
            let due = lastWarning.withLock { last in
                guard last.map({ ContinuousClock.now - $0 > .seconds(10) }) ?? true else { return false }
                last = .now
                return true
            }
            guard due else { return }
            if event == .rejected {
                logger.warning("a shared cache entry failed authentication and was ignored (written without the shared secret?)", metadata: ["key": "\(detail)"])
            } else {
                logger.warning("redis is unavailable; verifying with the local cache only", metadata: ["error": "\(detail)"])
            }
        }
    }

    private func makeOptions(config: RatifyConfig) throws -> ServeOptions {
        var options = ServeOptions()
        guard metricsType == "prometheus" else { throw ValidationError("--metrics-type \"\(metricsType)\" is not supported: use prometheus") }
        do {
            options.httpAddress = try ListenAddress(parsing: httpAddress)
            options.healthAddress = try ListenAddress(parsing: healthPort)
            // Ratify's --metrics-port is a bare port number.
            let metrics = metricsPort.allSatisfy(\.isNumber) ? ":" + metricsPort : metricsPort
            options.metricsAddress = metricsPort == "off" || !metricsEnabled ? nil : try ListenAddress(parsing: metrics)
        } catch {
            throw ValidationError(error.description)
        }
        switch (certDir, tlsCertFile, tlsKeyFile) {
        case (nil, nil, nil):
            if clientCAFile != nil { throw ValidationError("--client-ca-file needs a server certificate (--cert-dir or --tls-cert-file/--tls-key-file)") }
        case (let dir?, nil, nil):
            options.tls = .certificateDirectory(dir, clientCAFile: clientCAFile)
        case (nil, let cert?, let key?):
            options.tls = TLSServerConfiguration(certificateChainFile: cert, privateKeyFile: key, clientCAFile: clientCAFile)
        case (nil, _, _):
            throw ValidationError("--tls-cert-file and --tls-key-file go together")
        default:
            throw ValidationError("use either --cert-dir or --tls-cert-file/--tls-key-file, not both")
        }
        guard certWatchInterval > 0 else { throw ValidationError("--cert-watch-interval must be positive") }
        guard configWatchInterval > 0 else { throw ValidationError("--config-watch-interval must be positive") }
        guard maxRequestBody > 0 else { throw ValidationError("--max-request-body must be positive") }
        guard (1...64).contains(eventLoops) else { throw ValidationError("--event-loops must be from 1 to 64") }
        options.certificateWatchInterval = .milliseconds(Int(certWatchInterval * 1000))
        options.maxRequestBodyBytes = maxRequestBody
        options.eventLoops = eventLoops
        // Each provider event loop runs on a lane of the registry transport: a verify request,
        // its registry round trips and its response stay on the thread that read it.
        options.providerLoopHost = { loop in
            CurlMultiTransport.shared.host(HostedLoop(descriptor: loop.descriptor, name: loop.name, maxWaitMilliseconds: loop.maxWaitMilliseconds,
                                                      turn: loop.turn, hasPendingWork: loop.hasPendingWork))
        }
        options.verificationTimeout = config.verificationRequestTimeout ?? options.verificationTimeout
        options.mutationTimeout = config.mutationRequestTimeout ?? options.mutationTimeout
        options.traceIDHeaders = config.traceIDHeaderNames
        return options
    }

    /// Suspends until SIGTERM or SIGINT; returns the signal's name.
    static func waitForTermination() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "ratify.signals")
            let resumed = SignalState(continuation)
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { resumed.fire(name) }
                source.resume()
                resumed.keep(source)
            }
        }
    }
}

/// Holds the signal sources alive and resumes the waiting task once.
private final class SignalState: @unchecked Sendable {
    private var continuation: CheckedContinuation<String, Never>?
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()

    init(_ continuation: CheckedContinuation<String, Never>) { self.continuation = continuation }

    func keep(_ source: DispatchSourceSignal) {
        lock.lock()
        sources.append(source)
        lock.unlock()
    }

    func fire(_ name: String) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(returning: name)
    }
}

extension MutationExecutor.Format {
    init?(flag: String) {
        switch flag {
        case "keep-tag": self = .keepTag
        case "strip-tag": self = .stripTag
        default: return nil
        }
    }
}
