import Foundation
import Synchronization

public struct RegoLimits: Sendable {
    /// Evaluation steps (expressions, terms) per query.
    public var maxSteps: Int = 2_000_000
    /// Rule and function nesting.
    public var maxDepth: Int = 200
    public var deadline: ContinuousClock.Instant = .now + .seconds(5)

    public init(maxSteps: Int = 2_000_000, maxDepth: Int = 200, deadline: ContinuousClock.Instant = .now + .seconds(5)) {
        self.maxSteps = maxSteps
        self.maxDepth = maxDepth
        self.deadline = deadline
    }
}

/// A Rego policy, parsed and checked once (per policy version): every call names a built-in or
/// a function of the policy with the right number of arguments. Evaluation is pure and
/// deterministic (`time.now_ns` is fixed per query), bounded in steps, depth and time.
public struct RegoPolicy: Sendable {
    public let module: RegoModule

    public init(_ text: String, file: String = "policy.rego") throws(RegoError) {
        guard text.utf8.count <= 1_048_576 else { throw RegoError(file: file, "the policy is larger than 1 MiB") }
        var parser = try Parser(text: text, file: file)
        module = try parser.module()
        try Self.check(module)
        try Ordering.check(module)
    }

    /// Calls resolve, with the right arity.
    static func check(_ module: RegoModule) throws(RegoError) {
        var problem: RegoError?
        func visit(_ term: Term) {
            guard problem == nil else { return }
            switch term {
            case .call(let name, let arguments, let position):
                if let functions = module.rules[name], functions.first?.kind == .function {
                    if !functions.contains(where: { $0.arguments.count == arguments.count }) {
                        problem = RegoError(file: module.file, line: position.line, column: position.column,
                                            "function \(name) takes \(functions[0].arguments.count) argument(s), called with \(arguments.count)")
                    }
                } else if let arities = Builtins.arities[name] {
                    if !arities.contains(arguments.count) {
                        problem = RegoError(file: module.file, line: position.line, column: position.column,
                                            "\(name) takes \(arities.sorted().map(String.init).joined(separator: " or ")) argument(s), called with \(arguments.count)")
                    }
                } else {
                    problem = RegoError(file: module.file, line: position.line, column: position.column,
                                        "unknown function \(name): not a built-in this engine supports nor a function of the policy")
                }
                arguments.forEach(visit)
            case .ref(let head, let selections): visit(head); selections.forEach(visit)
            case .array(let items), .set(let items): items.forEach(visit)
            case .object(let pairs): pairs.forEach { visit($0.0); visit($0.1) }
            case .arrayComprehension(let head, let body), .setComprehension(let head, let body): visit(head); body.forEach(visitExpr)
            case .objectComprehension(let key, let value, let body): visit(key); visit(value); body.forEach(visitExpr)
            case .membership(let key, let value, let collection): key.map(visit); visit(value); visit(collection)
            case .value, .variable: break
            }
        }
        func visitExpr(_ expr: Expr) {
            switch expr {
            case .term(let t): visit(t)
            case .not(let inner): visitExpr(inner)
            case .assign(let a, let b), .unify(let a, let b): visit(a); visit(b)
            case .some: break
            case .someIn(let key, let value, let collection): key.map(visit); visit(value); visit(collection)
            case .every(_, _, let collection, let body): visit(collection); body.forEach(visitExpr)
            }
        }
        for rules in module.rules.values {
            for rule in rules {
                rule.arguments.forEach(visit)
                rule.key.map(visit)
                visit(rule.value)
                rule.body.forEach(visitExpr)
                for alternative in rule.elses { visit(alternative.value); alternative.body.forEach(visitExpr) }
            }
        }
        module.defaults.values.forEach(visit)
        if let problem { throw problem }
    }

    /// `evaluate` on one of the engine's own threads, which have 64 MiB stacks (the evaluator
    /// recurses; the cooperative pool's threads have small stacks). The caller waits: evaluation
    /// is bounded in steps, depth and time.
    public func evaluateOnOwnStack(_ name: String, input: RegoValue?, limits: RegoLimits = RegoLimits(),
                                   now: Date = Date()) throws(RegoError) -> RegoValue? {
        let outcome = Mutex<Result<RegoValue?, RegoError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        RegoThreads.shared.run {
            let result: Result<RegoValue?, RegoError>
            do throws(RegoError) { result = .success(try self.evaluate(name, input: input, limits: limits, now: now)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// The value of rule `name` of the policy's package for `input`; nil when undefined.
    public func evaluate(_ name: String, input: RegoValue?, limits: RegoLimits = RegoLimits(),
                         now: Date = Date()) throws(RegoError) -> RegoValue? {
        let evaluation = Evaluation(module: module, input: input, limits: limits,
                                    nowNs: Int(now.timeIntervalSince1970 * 1_000_000_000))
        do {
            guard module.rules[name] != nil || module.defaults[name] != nil else { return nil }
            return try evaluation.ruleValue(name)
        } catch let error as RegoError {
            throw error
        } catch {
            throw RegoError(file: module.file, "\(error)")
        }
    }
}

/// Two long-lived threads with large stacks that run evaluations in turn.
final class RegoThreads: @unchecked Sendable {
    static let shared = RegoThreads(count: 2)
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []

    init(count: Int) {
        for index in 0..<count {
            let thread = Thread { [unowned self] in self.loop() }
            thread.stackSize = 64 * 1024 * 1024
            thread.name = "ratify-rego-\(index)"
            thread.start()
        }
    }

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue.removeFirst()
            condition.unlock()
            job()
        }
    }
}
