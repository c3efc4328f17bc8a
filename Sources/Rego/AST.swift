/// The supported subset of Rego, parsed. Variables named `_` are renamed to fresh wildcards when
/// parsed, so each occurrence is its own variable.
indirect enum Term: Sendable {
    case value(RegoValue)
    case variable(String)
    /// `head` followed by `.name` / `[term]` selections.
    case ref(Term, [Term])
    case array([Term])
    case object([(Term, Term)])
    case set([Term])
    case arrayComprehension(Term, [Expr])
    case setComprehension(Term, [Expr])
    case objectComprehension(Term, Term, [Expr])
    /// A built-in or a function of the module, by dotted name; `position` for errors.
    case call(String, [Term], Position)
    /// `x in xs`, `k, v in xs` as a boolean term.
    case membership(Term?, Term, Term)
}

struct Position: Sendable {
    let line: Int
    let column: Int
}

indirect enum Expr: Sendable {
    /// Holds when the term is defined and not `false`.
    case term(Term)
    case not(Expr)
    /// `:=` (declares the variables on its left) and `=` (unifies).
    case assign(Term, Term)
    case unify(Term, Term)
    /// `some x, y` (declarations only).
    case some([String])
    /// `some v in xs`, `some k, v in xs`.
    case someIn(Term?, Term, Term)
    /// `every v in xs { … }`, `every k, v in xs { … }`.
    case every(String?, String, Term, [Expr])
}

enum RuleKind: Sendable {
    case complete
    case partialSet
    case partialObject
    case function
}

struct Rule: Sendable {
    var kind: RuleKind
    var name: String
    var arguments: [Term] = []
    /// Partial sets and objects: the key (set member / object key).
    var key: Term?
    /// The value; `true` when the head names none.
    var value: Term
    var body: [Expr]
    /// `else` alternatives, tried in order when the body has no result.
    var elses: [(value: Term, body: [Expr])] = []
    var isDefault = false
    var position: Position
}

/// A parsed policy: its package and rules by name.
public struct RegoModule: Sendable {
    public let package: [String]
    let rules: [String: [Rule]]
    let defaults: [String: Term]
    public let file: String

    /// Rules defined by a body or a default.
    public var ruleNames: [String] { Set(rules.keys).union(defaults.keys).sorted() }
}
