import Foundation

/// Bindings of one branch of the search: values of bound variables, and the names declared
/// local (`some`, `:=`) that shadow rules of the same name while unbound.
struct Env {
    var values: [String: RegoValue] = [:]
    var locals: Set<String> = []
}

typealias Continuation = (Env) throws -> Bool

/// A function call's cache key: its name and argument values (not their JSON text, which
/// would make {1} and [1], or {1: x} and {"1": x}, the same call).
struct FunctionCall: Hashable {
    let name: String
    let arguments: [RegoValue]
}

/// One evaluation of a policy: top-down search with backtracking (continuations return true
/// to stop the search), rule values computed once, bounded in steps, depth and time.
final class Evaluation {
    let module: RegoModule
    let input: RegoValue?
    let limits: RegoLimits
    let nowNs: Int
    var steps = 0
    var depth = 0
    var ruleCache: [String: RegoValue?] = [:]
    var functionCache: [FunctionCall: RegoValue?] = [:]
    var inProgress: Set<String> = []

    init(module: RegoModule, input: RegoValue?, limits: RegoLimits, nowNs: Int) {
        self.module = module
        self.input = input
        self.limits = limits
        self.nowNs = nowNs
    }

    func error(_ message: String, _ position: Position? = nil) -> RegoError {
        RegoError(file: module.file, line: position?.line ?? 0, column: position?.column ?? 0, message)
    }

    /// Work a built-in did, in steps (its output's size): built-ins are bounded like the rest.
    func charge(_ units: Int) throws {
        steps += units
        if steps > limits.maxSteps { throw error("evaluation exceeded \(limits.maxSteps) steps") }
    }

    func step() throws {
        steps += 1
        if steps > limits.maxSteps { throw error("evaluation exceeded \(limits.maxSteps) steps") }
        if steps & 1023 == 0, ContinuousClock.now > limits.deadline { throw error("evaluation did not finish before its deadline") }
    }

    // MARK: bodies and expressions

    /// Nested body frames (continuations make a conjunction's later expressions run inside the
    /// earlier ones): bounded so that no policy can exhaust the evaluation thread's stack.
    var frames = 0
    static let maxFrames = 2_000

    func body(_ exprs: [Expr], _ index: Int, _ env: Env, _ k: Continuation) throws -> Bool {
        guard index < exprs.count else { return try k(env) }
        try step()
        frames += 1
        defer { frames -= 1 }
        guard frames <= Self.maxFrames else { throw error("evaluation nests deeper than \(Self.maxFrames) expressions") }
        return try expr(exprs[index], env) { next in try self.body(exprs, index + 1, next, k) }
    }

    /// Whether `exprs` has at least one solution under `env`.
    func holds(_ exprs: [Expr], _ env: Env) throws -> Bool {
        try body(exprs, 0, env) { _ in true }
    }

    func expr(_ e: Expr, _ env: Env, _ k: Continuation) throws -> Bool {
        switch e {
        case .term(let t):
            return try term(t, env) { value, next in
                if case .bool(false) = value { return false }
                return try k(next)
            }
        case .not(let inner):
            let found = try expr(inner, env) { _ in true }
            return found ? false : try k(env)
        case .assign(let lhs, let rhs):
            var declared = env
            for name in variables(in: lhs) where !name.hasPrefix("_$") {
                guard declared.values[name] == nil else { throw error("\(name) is assigned twice (:=)") }
                declared.locals.insert(name)
            }
            return try term(rhs, declared) { value, next in try self.bind(lhs, value, next, k) }
        case .unify(let lhs, let rhs):
            return try unify(lhs, rhs, env, k)
        case .some(let names):
            var next = env
            for name in names {
                next.values[name] = nil
                next.locals.insert(name)
            }
            return try k(next)
        case .someIn(let key, let value, let collection):
            let names = (key.map(variables) ?? []) + variables(in: value)
            return try term(collection, env) { coll, next in
                var scoped = next
                for name in names {
                    scoped.values[name] = nil
                    scoped.locals.insert(name)
                }
                return try self.elements(of: coll) { elementKey, element in
                    try self.bind(value, element, scoped) { bound in
                        if let key { return try self.bind(key, elementKey, bound, k) }
                        return try k(bound)
                    }
                }
            }
        case .every(let key, let value, let collection, let inner):
            // For each value of the domain (a collection: anything else makes `every` false, as
            // in OPA): true when the body holds for every element.
            return try term(collection, env) { coll, next in
                switch coll {
                case .array, .object, .set: break
                default: return false
                }
                let someElementFails = try self.elements(of: coll) { elementKey, element in
                    var scoped = next
                    scoped.values[value] = element
                    scoped.locals.insert(value)
                    if let key {
                        scoped.values[key] = elementKey
                        scoped.locals.insert(key)
                    }
                    return try !self.holds(inner, scoped)
                }
                return someElementFails ? false : try k(next)
            }
        }
    }

    /// Each (key, element) of a collection: array index and element, object key and value, set
    /// element twice. Stops when `k` returns true; returns whether it stopped.
    func elements(of collection: RegoValue, _ k: (RegoValue, RegoValue) throws -> Bool) throws -> Bool {
        switch collection {
        case .array(let items):
            for (index, item) in items.enumerated() where try k(.int(index), item) { return true }
        case .object(let pairs):
            for pair in pairs where try k(pair.key, pair.value) { return true }
        case .set(let items):
            for item in items where try k(item, item) { return true }
        default:
            break
        }
        return false
    }

    // MARK: variables

    func variables(in t: Term) -> [String] {
        switch t {
        case .variable(let name): return [name]
        case .array(let items), .set(let items): return items.flatMap(variables)
        case .object(let pairs): return pairs.flatMap { variables(in: $0.1) }
        default: return []
        }
    }

    /// Whether `name` is a variable without a value here (else it names a value: a binding,
    /// `input`, `data`, a rule).
    func isUnbound(_ name: String, _ env: Env) -> Bool {
        if env.values[name] != nil { return false }
        if env.locals.contains(name) || name.hasPrefix("_$") { return true }
        return !(name == "input" || name == "data" || module.rules[name] != nil || module.defaults[name] != nil)
    }

    func isGround(_ t: Term, _ env: Env) -> Bool {
        switch t {
        case .variable(let name): return !isUnbound(name, env)
        case .array(let items), .set(let items): return items.allSatisfy { isGround($0, env) }
        case .object(let pairs): return pairs.allSatisfy { isGround($0.0, env) && isGround($0.1, env) }
        default: return true
        }
    }

    /// Binds a pattern (variable, array or object of patterns, or a value term) to `value`.
    func bind(_ pattern: Term, _ value: RegoValue, _ env: Env, _ k: Continuation) throws -> Bool {
        switch pattern {
        case .variable(let name) where isUnbound(name, env):
            var next = env
            next.values[name] = value
            return try k(next)
        case .array(let items) where !isGround(pattern, env):
            guard case .array(let values) = value, values.count == items.count else { return false }
            return try bindAll(Array(zip(items, values)), 0, env, k)
        case .object(let pairs) where !isGround(pattern, env):
            guard case .object(let members) = value, members.count == pairs.count else { return false }
            var matched: [(Term, RegoValue)] = []
            for (keyTerm, valueTerm) in pairs {
                var keyValue: RegoValue?
                _ = try term(keyTerm, env) { key, _ in keyValue = key; return true }
                guard let key = keyValue, let member = value[key] else { return false }
                matched.append((valueTerm, member))
            }
            return try bindAll(matched, 0, env, k)
        default:
            return try term(pattern, env) { candidate, next in
                candidate == value ? try k(next) : false
            }
        }
    }

    func bindAll(_ pairs: [(Term, RegoValue)], _ index: Int, _ env: Env, _ k: Continuation) throws -> Bool {
        guard index < pairs.count else { return try k(env) }
        return try bind(pairs[index].0, pairs[index].1, env) { next in try self.bindAll(pairs, index + 1, next, k) }
    }

    func unify(_ lhs: Term, _ rhs: Term, _ env: Env, _ k: Continuation) throws -> Bool {
        if !isGround(lhs, env) {
            if !isGround(rhs, env) {
                // Two patterns: arrays of the same length unify element by element.
                if case .array(let a) = lhs, case .array(let b) = rhs, a.count == b.count {
                    return try unifyAll(Array(zip(a, b)), 0, env, k)
                }
                throw error("cannot unify two terms that both have unbound variables")
            }
            return try term(rhs, env) { value, next in try self.bind(lhs, value, next, k) }
        }
        if !isGround(rhs, env) {
            return try term(lhs, env) { value, next in try self.bind(rhs, value, next, k) }
        }
        return try term(lhs, env) { a, next in
            try self.term(rhs, next) { b, after in a == b ? try k(after) : false }
        }
    }

    func unifyAll(_ pairs: [(Term, Term)], _ index: Int, _ env: Env, _ k: Continuation) throws -> Bool {
        guard index < pairs.count else { return try k(env) }
        return try unify(pairs[index].0, pairs[index].1, env) { next in try self.unifyAll(pairs, index + 1, next, k) }
    }

    // MARK: terms

    typealias ValueContinuation = (RegoValue, Env) throws -> Bool

    func term(_ t: Term, _ env: Env, _ k: ValueContinuation) throws -> Bool {
        try step()
        switch t {
        case .value(let value):
            return try k(value, env)
        case .variable(let name):
            if let value = env.values[name] { return try k(value, env) }
            guard !isUnbound(name, env) else { throw error("variable \(name) is unsafe: it has no value here") }
            return try resolveName(name, env, k)
        case .ref(let head, let selections):
            if case .variable("data") = head, env.values["data"] == nil { return try dataRef(selections, env, k) }
            return try term(head, env) { base, next in try self.select(base, selections, 0, next, k) }
        case .array(let items):
            return try collect(items, 0, [], env) { values, next in try k(.array(values), next) }
        case .set(let items):
            return try collect(items, 0, [], env) { values, next in try k(.set(of: values), next) }
        case .object(let pairs):
            return try collect(pairs.flatMap { [$0.0, $0.1] }, 0, [], env) { values, next in
                var members: [(RegoValue, RegoValue)] = []
                var index = 0
                while index < values.count {
                    members.append((values[index], values[index + 1]))
                    index += 2
                }
                return try k(.makeObject(members), next)
            }
        case .arrayComprehension(let head, let inner):
            return try k(.array(try comprehension(head, inner, env)), env)
        case .setComprehension(let head, let inner):
            return try k(.set(of: try comprehension(head, inner, env)), env)
        case .objectComprehension(let keyTerm, let valueTerm, let inner):
            var out: [RegoValue: RegoValue] = [:]
            _ = try body(inner, 0, env) { solution in
                _ = try self.term(keyTerm, solution) { key, afterKey in
                    try self.term(valueTerm, afterKey) { value, _ in
                        if let existing = out[key], existing != value { throw self.error("object comprehension has conflicting values for key \(key.json)") }
                        out[key] = value
                        return false
                    }
                }
                return false
            }
            return try k(.makeObject(out.map { ($0.key, $0.value) }), env)
        case .call(let name, let arguments, let position):
            return try collect(arguments, 0, [], env) { values, next in
                for result in try self.call(name, values, position) where try k(result, next) { return true }
                return false
            }
        case .membership(let keyTerm, let valueTerm, let collectionTerm):
            return try term(collectionTerm, env) { collection, next in
                try self.term(valueTerm, next) { value, afterValue in
                    if let keyTerm {
                        return try self.term(keyTerm, afterValue) { key, afterKey in
                            let found = try self.elements(of: collection) { k2, v2 in k2 == key && v2 == value }
                            return try k(.bool(found), afterKey)
                        }
                    }
                    let found = try self.elements(of: collection) { _, element in element == value }
                    return try k(.bool(found), afterValue)
                }
            }
        }
    }

    /// The head's values over every solution of a comprehension's body.
    func comprehension(_ head: Term, _ inner: [Expr], _ env: Env) throws -> [RegoValue] {
        var out: [RegoValue] = []
        _ = try body(inner, 0, env) { solution in
            _ = try self.term(head, solution) { value, _ in out.append(value); return false }
            return false
        }
        return out
    }

    /// Every combination of the terms' values, in order.
    func collect(_ terms: [Term], _ index: Int, _ done: [RegoValue], _ env: Env,
                 _ k: ([RegoValue], Env) throws -> Bool) throws -> Bool {
        guard index < terms.count else { return try k(done, env) }
        return try term(terms[index], env) { value, next in
            try self.collect(terms, index + 1, done + [value], next, k)
        }
    }

    /// `base[s0][s1]…`: a ground selection indexes, an unbound one iterates and binds.
    func select(_ base: RegoValue, _ selections: [Term], _ index: Int, _ env: Env, _ k: ValueContinuation) throws -> Bool {
        guard index < selections.count else { return try k(base, env) }
        let selection = selections[index]
        if isGround(selection, env) {
            return try term(selection, env) { key, next in
                guard let value = self.index(base, key) else { return false }
                return try self.select(value, selections, index + 1, next, k)
            }
        }
        return try elements(of: base) { key, value in
            try self.bind(selection, key, env) { next in try self.select(value, selections, index + 1, next, k) }
        }
    }

    func index(_ base: RegoValue, _ key: RegoValue) -> RegoValue? {
        switch base {
        case .object: return base[key]
        case .array(let items):
            guard case .number(let n) = key, let i = n.intValue, i >= 0, i < items.count else { return nil }
            return items[i]
        case .set: return base.contains(element: key) ? key : nil
        default: return nil
        }
    }

    // MARK: names and rules

    func resolveName(_ name: String, _ env: Env, _ k: ValueContinuation) throws -> Bool {
        if name == "input" {
            guard let input else { return false }
            return try k(input, env)
        }
        if name == "data" { return try k(try dataDocument(), env) }
        guard let value = try ruleValue(name) else { return false }
        return try k(value, env)
    }

    /// `data.<package>.<rule>…`: this module's rules under its package path; nothing else is in data.
    func dataRef(_ selections: [Term], _ env: Env, _ k: ValueContinuation) throws -> Bool {
        var path: [String] = []
        for selection in selections {
            guard case .value(.string(let part)) = selection else { break }
            path.append(part)
            if path.count > module.package.count { break }
        }
        if path.count > module.package.count, Array(path.prefix(module.package.count)) == module.package {
            let name = path[module.package.count]
            guard module.rules[name] != nil || module.defaults[name] != nil else { return false }
            guard let value = try ruleValue(name) else { return false }
            return try select(value, selections, module.package.count + 1, env, k)
        }
        return try select(try dataDocument(), selections, 0, env, k)
    }

    func dataDocument() throws -> RegoValue {
        var rules: [(RegoValue, RegoValue)] = []
        for name in Set(module.rules.keys).union(module.defaults.keys).sorted() where module.rules[name]?.first?.kind != .function {
            if let value = try ruleValue(name) { rules.append((.string(name), value)) }
        }
        var document = RegoValue.makeObject(rules)
        for part in module.package.reversed() { document = .makeObject([(.string(part), document)]) }
        return document
    }

    /// The value of a rule without arguments: a complete rule's single value (or its default),
    /// a partial set's members, a partial object's entries; nil when undefined.
    func ruleValue(_ name: String) throws -> RegoValue? {
        if let cached = ruleCache[name] { return cached }
        guard !inProgress.contains(name) else { throw error("rule \(name) depends on itself") }
        inProgress.insert(name)
        defer { inProgress.remove(name) }
        depth += 1
        defer { depth -= 1 }
        guard depth <= limits.maxDepth else { throw error("rules nest deeper than \(limits.maxDepth)") }
        let definitions = module.rules[name] ?? []
        var result: RegoValue?
        switch definitions.first?.kind ?? .complete {
        case .complete:
            var values: [RegoValue] = []
            for rule in definitions {
                if let value = try completeValue(rule, Env()), !values.contains(value) { values.append(value) }
            }
            guard values.count <= 1 else {
                throw error("complete rule \(name) produced more than one value (\(values.prefix(2).map { "\($0.json)" }.joined(separator: ", ")))",
                            definitions.first.map { $0.position })
            }
            if let value = values.first {
                result = value
            } else if let fallback = module.defaults[name] {
                _ = try term(fallback, Env()) { value, _ in result = value; return true }
            }
        case .partialSet:
            var members: [RegoValue] = []
            for rule in definitions {
                _ = try body(rule.body, 0, Env()) { solution in
                    _ = try self.term(rule.key!, solution) { value, _ in members.append(value); return false }
                    return false
                }
            }
            result = .set(of: members)
        case .partialObject:
            var entries: [RegoValue: RegoValue] = [:]
            for rule in definitions {
                _ = try body(rule.body, 0, Env()) { solution in
                    _ = try self.term(rule.key!, solution) { key, afterKey in
                        try self.term(rule.value, afterKey) { value, _ in
                            if let existing = entries[key], existing != value {
                                throw self.error("partial object \(name) has conflicting values for key \(key.json)", rule.position)
                            }
                            entries[key] = value
                            return false
                        }
                    }
                    return false
                }
            }
            result = .makeObject(entries.map { ($0.key, $0.value) })
        case .function:
            throw error("\(name) is a function: call it with arguments")
        }
        ruleCache[name] = .some(result)
        return result
    }

    /// A complete rule's (or function's) value under `env`: its body's, else the first `else`
    /// whose body holds. Conflicting values of one body are an error.
    func completeValue(_ rule: Rule, _ env: Env) throws -> RegoValue? {
        for (value, exprs) in [(rule.value, rule.body)] + rule.elses {
            var values: [RegoValue] = []
            _ = try body(exprs, 0, env) { solution in
                _ = try self.term(value, solution) { result, _ in
                    if !values.contains(result) { values.append(result) }
                    return false
                }
                return false
            }
            guard values.count <= 1 else { throw error("\(rule.name) produced more than one value", rule.position) }
            if let result = values.first { return result }
        }
        return nil
    }

    func call(_ name: String, _ arguments: [RegoValue], _ position: Position) throws -> [RegoValue] {
        if let definitions = module.rules[name], definitions.first?.kind == .function {
            let key = FunctionCall(name: name, arguments: arguments)
            if let cached = functionCache[key] { return cached.map { [$0] } ?? [] }
            depth += 1
            defer { depth -= 1 }
            guard depth <= limits.maxDepth else { throw error("function calls nest deeper than \(limits.maxDepth)", position) }
            var values: [RegoValue] = []
            for rule in definitions where rule.arguments.count == arguments.count {
                // Parameters are the function's own variables, whatever rules share their names.
                var parameters = Env()
                parameters.locals = Set(rule.arguments.flatMap(variables))
                _ = try bindAll(Array(zip(rule.arguments, arguments)), 0, parameters) { bound in
                    if let value = try self.completeValue(rule, bound), !values.contains(value) { values.append(value) }
                    return false
                }
            }
            guard values.count <= 1 else { throw error("function \(name) produced more than one value for the same arguments", position) }
            functionCache[key] = .some(values.first)
            return values
        }
        do {
            return try Builtins.call(name, arguments, context: self)
        } catch let failure as BuiltinFailure {
            // OPA's default (non-strict) built-in errors: the call is undefined.
            _ = failure
            return []
        }
    }
}
