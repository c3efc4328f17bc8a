/// OPA reorders a body so that a negation, a comprehension or an `every` runs after the
/// expressions that bind the variables it uses (ast/compile.go reorderBodyForSafety /
/// reorderBodyForClosures). This engine evaluates in text order, so a policy that relies on
/// that reordering is refused when it loads — never evaluated with a different meaning.
enum Ordering {
    static func check(_ module: RegoModule) throws(RegoError) {
        for rules in module.rules.values {
            for rule in rules {
                try checkBody(rule.body, rule: rule, module: module)
                for alternative in rule.elses { try checkBody(alternative.body, rule: rule, module: module) }
            }
        }
    }

    static func checkBody(_ body: [Expr], rule: Rule, module: RegoModule) throws(RegoError) {
        // OPA refuses a variable declared twice in one body (`some x` … `some x`, `x := …` … `x := …`).
        var declaredOnce = Set<String>()
        for expr in body {
            var names: [String] = []
            switch expr {
            case .assign(let lhs, _): names = Array(variables(lhs, enteringClosures: false))
            case .some(let declared): names = declared
            case .someIn(let key, let value, _): names = Array((key.map { variables($0, enteringClosures: false) } ?? []).union(variables(value, enteringClosures: false)))
            default: break
            }
            for name in names where !name.hasPrefix("_$") {
                guard declaredOnce.insert(name).inserted else {
                    throw RegoError(file: module.file, line: rule.position.line, column: rule.position.column,
                                    "in rule \(rule.name): variable \(name) is declared twice in one body")
                }
            }
        }
        // `input`, `data` and the module's rules are never bound by a body (unless declared
        // local there with := or some).
        var declared = Set<String>()
        for expr in body {
            switch expr {
            case .assign(let lhs, _): declared.formUnion(variables(lhs, enteringClosures: false))
            case .some(let names): declared.formUnion(names)
            case .someIn(let key, let value, _): declared.formUnion((key.map { variables($0, enteringClosures: false) } ?? []).union(variables(value, enteringClosures: false)))
            default: break
            }
        }
        let globals = Set(["input", "data"]).union(module.rules.keys).union(module.defaults.keys).subtracting(declared)
        let introduced = body.map { bound(by: $0).subtracting(globals) }
        // Linear in the body: variables bound so far, and how many later expressions bind each.
        var before = Set<String>()
        var laterCount: [String: Int] = [:]
        for set in introduced { for name in set { laterCount[name, default: 0] += 1 } }
        for (index, expr) in body.enumerated() {
            for name in introduced[index] { laterCount[name]! -= 1 }
            defer { before.formUnion(introduced[index]) }
            for closure in closures(in: expr) {
                let late = closure.uses.filter { (laterCount[$0] ?? 0) > 0 && !before.contains($0) && !$0.hasPrefix("_$") }
                if let name = late.sorted().first {
                    throw RegoError(file: module.file, line: rule.position.line, column: rule.position.column,
                                    "in rule \(rule.name): \(closure.kind) uses \(name) before the expression that binds it; move it after that expression (this engine does not reorder bodies)")
                }
            }
            for nested in nestedBodies(in: expr) { try checkBody(nested, rule: rule, module: module) }
        }
    }

    struct Closure {
        let kind: String
        let uses: Set<String>
    }

    /// The negations, comprehensions and `every`s of an expression, with the variables each uses.
    static func closures(in expr: Expr) -> [Closure] {
        switch expr {
        case .not(let inner): return [Closure(kind: "a negation (not)", uses: variables(inner))]
        case .every(_, _, let collection, let body):
            return [Closure(kind: "every", uses: variables(collection).union(body.reduce(into: Set<String>()) { $0.formUnion(variables($1)) }))]
        case .term(let t): return termClosures(t)
        case .assign(let a, let b), .unify(let a, let b): return termClosures(a) + termClosures(b)
        case .someIn(let key, let value, let collection): return (key.map(termClosures) ?? []) + termClosures(value) + termClosures(collection)
        case .some: return []
        }
    }

    static func termClosures(_ t: Term) -> [Closure] {
        switch t {
        case .arrayComprehension(let head, let body), .setComprehension(let head, let body):
            return [Closure(kind: "a comprehension", uses: variables(head).union(body.reduce(into: Set<String>()) { $0.formUnion(variables($1)) }))]
        case .objectComprehension(let key, let value, let body):
            return [Closure(kind: "a comprehension", uses: variables(key).union(variables(value)).union(body.reduce(into: Set<String>()) { $0.formUnion(variables($1)) }))]
        case .ref(let head, let selections): return termClosures(head) + selections.flatMap(termClosures)
        case .array(let items), .set(let items): return items.flatMap(termClosures)
        case .object(let pairs): return pairs.flatMap { termClosures($0.0) + termClosures($0.1) }
        case .call(_, let arguments, _): return arguments.flatMap(termClosures)
        case .membership(let key, let value, let collection): return (key.map(termClosures) ?? []) + termClosures(value) + termClosures(collection)
        case .value, .variable: return []
        }
    }

    static func nestedBodies(in expr: Expr) -> [[Expr]] {
        func fromTerm(_ t: Term) -> [[Expr]] {
            switch t {
            case .arrayComprehension(let head, let body), .setComprehension(let head, let body): return [body] + fromTerm(head)
            case .objectComprehension(let key, let value, let body): return [body] + fromTerm(key) + fromTerm(value)
            case .ref(let head, let selections): return fromTerm(head) + selections.flatMap(fromTerm)
            case .array(let items), .set(let items): return items.flatMap(fromTerm)
            case .object(let pairs): return pairs.flatMap { fromTerm($0.0) + fromTerm($0.1) }
            case .call(_, let arguments, _): return arguments.flatMap(fromTerm)
            case .membership(let key, let value, let collection): return (key.map(fromTerm) ?? []) + fromTerm(value) + fromTerm(collection)
            case .value, .variable: return []
            }
        }
        switch expr {
        case .not(let inner): return nestedBodies(in: inner)
        case .every(_, _, let collection, let body): return [body] + fromTerm(collection)
        case .term(let t): return fromTerm(t)
        case .assign(let a, let b), .unify(let a, let b): return fromTerm(a) + fromTerm(b)
        case .someIn(let key, let value, let collection): return (key.map(fromTerm) ?? []) + fromTerm(value) + fromTerm(collection)
        case .some: return []
        }
    }

    /// Variables an expression may bind (conservatively: every variable it mentions outside closures).
    static func bound(by expr: Expr) -> Set<String> {
        switch expr {
        case .not: return []
        case .every: return []
        case .some(let names): return Set(names)
        default: return variables(expr, enteringClosures: false)
        }
    }

    static func variables(_ expr: Expr, enteringClosures: Bool = true) -> Set<String> {
        switch expr {
        case .term(let t): return variables(t, enteringClosures: enteringClosures)
        case .not(let inner): return enteringClosures ? variables(inner) : []
        case .assign(let a, let b), .unify(let a, let b): return variables(a, enteringClosures: enteringClosures).union(variables(b, enteringClosures: enteringClosures))
        case .some(let names): return Set(names)
        case .someIn(let key, let value, let collection):
            return (key.map { variables($0, enteringClosures: enteringClosures) } ?? []).union(variables(value, enteringClosures: enteringClosures))
                .union(variables(collection, enteringClosures: enteringClosures))
        case .every(let key, let value, let collection, let body):
            guard enteringClosures else { return [] }
            return variables(collection).union(body.reduce(into: Set<String>()) { $0.formUnion(variables($1)) }).union([value]).union(key.map { [$0] } ?? [])
        }
    }

    static func variables(_ t: Term, enteringClosures: Bool = true) -> Set<String> {
        switch t {
        case .value: return []
        case .variable(let name): return [name]
        case .ref(let head, let selections):
            return selections.reduce(into: variables(head, enteringClosures: enteringClosures)) { $0.formUnion(variables($1, enteringClosures: enteringClosures)) }
        case .array(let items), .set(let items): return items.reduce(into: Set<String>()) { $0.formUnion(variables($1, enteringClosures: enteringClosures)) }
        case .object(let pairs):
            return pairs.reduce(into: Set<String>()) { $0.formUnion(variables($1.0, enteringClosures: enteringClosures)); $0.formUnion(variables($1.1, enteringClosures: enteringClosures)) }
        case .call(_, let arguments, _): return arguments.reduce(into: Set<String>()) { $0.formUnion(variables($1, enteringClosures: enteringClosures)) }
        case .membership(let key, let value, let collection):
            return (key.map { variables($0, enteringClosures: enteringClosures) } ?? []).union(variables(value, enteringClosures: enteringClosures))
                .union(variables(collection, enteringClosures: enteringClosures))
        case .arrayComprehension(let head, let body), .setComprehension(let head, let body):
            guard enteringClosures else { return [] }
            return body.reduce(into: variables(head)) { $0.formUnion(variables($1)) }
        case .objectComprehension(let key, let value, let body):
            guard enteringClosures else { return [] }
            return body.reduce(into: variables(key).union(variables(value))) { $0.formUnion(variables($1)) }
        }
    }
}
