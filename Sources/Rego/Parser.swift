/// Parses a Rego module in the subset Ratify's policies use — Rego v1 syntax and the older form
/// with `import future.keywords…`: packages, imports of future.keywords / rego.v1, complete,
/// partial-set, partial-object and function rules, `default`, `else`, `some`, `every`, `in`,
/// `not`, comprehensions, references with variables. Anything else is refused here with its
/// position, never evaluated wrongly.
struct Parser {
    let file: String
    var tokens: [Token]
    var index = 0
    /// Open brackets of the expression being parsed: a newline ends an expression only outside them.
    var nesting = 0
    var previousLine = 1
    var wildcards = 0
    /// While parsing the first element of `[`/`{`: a `|` starts a comprehension, not a union.
    var barEndsTerm = false
    /// Terms inside terms: bounded, so hostile text cannot exhaust the stack.
    var termDepth = 0
    static let maxTermDepth = 100
    /// Items of one array / set / object literal, and arguments of one call (each is a frame
    /// when the literal is evaluated).
    static let maxLiteralItems = 1_000

    init(text: String, file: String) throws(RegoError) {
        self.file = file
        tokens = try Lexer.tokens(text, file: file)
    }

    var peek: Token { tokens[index] }

    mutating func next() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        previousLine = token.line
        return token
    }

    func error(_ message: String, at token: Token? = nil) -> RegoError {
        let where_ = token ?? peek
        return RegoError(file: file, line: where_.line, column: where_.column, message)
    }

    func isSymbol(_ symbol: String) -> Bool { peek.symbol == symbol }
    func isWord(_ word: String) -> Bool { peek.identifier == word }
    /// Whether the next token continues the current expression (same line, or inside brackets).
    var sameExpression: Bool { nesting > 0 || peek.line == previousLine }

    mutating func expect(_ symbol: String) throws(RegoError) {
        guard isSymbol(symbol) else { throw error("expected \"\(symbol)\", found \(describe(peek))") }
        _ = next()
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let s): "\"\(s)\""
        case .string(let s): "string \"\(s.prefix(20))\""
        case .number(let s): "number \(s)"
        case .symbol(let s): "\"\(s)\""
        case .end: "the end of the policy"
        }
    }

    // MARK: module

    mutating func module() throws(RegoError) -> RegoModule {
        guard isWord("package") else { throw error("a policy starts with a package declaration") }
        _ = next()
        var package: [String] = []
        repeat {
            guard let name = next().identifier else { throw error("expected a package name") }
            package.append(name)
        } while isSymbol(".") && { _ = next(); return true }()
        var rules: [String: [Rule]] = [:]
        var defaults: [String: Term] = [:]
        while peek.kind != .end {
            if isWord("import") {
                try importDeclaration()
                continue
            }
            let rule = try rule()
            if rule.isDefault {
                guard defaults[rule.name] == nil else { throw error("more than one default for \(rule.name)") }
                defaults[rule.name] = rule.value
                continue
            }
            if let existing = rules[rule.name]?.first, !Self.compatible(existing.kind, rule.kind) {
                throw RegoError(file: file, line: rule.position.line, column: rule.position.column,
                                "\(rule.name) is defined as two kinds of rule")
            }
            rules[rule.name, default: []].append(rule)
        }
        return RegoModule(package: package, rules: rules, defaults: defaults, file: file)
    }

    static func compatible(_ a: RuleKind, _ b: RuleKind) -> Bool {
        switch (a, b) {
        case (.complete, .complete), (.partialSet, .partialSet), (.partialObject, .partialObject), (.function, .function): true
        default: false
        }
    }

    mutating func importDeclaration() throws(RegoError) {
        let start = next()
        var path: [String] = []
        repeat {
            guard let name = next().identifier else { throw error("expected an import path", at: start) }
            path.append(name)
        } while isSymbol(".") && { _ = next(); return true }()
        let text = path.joined(separator: ".")
        guard text == "rego.v1" || text == "future.keywords" || (path.count == 3 && text.hasPrefix("future.keywords.")
                && ["if", "in", "every", "contains"].contains(path[2])) else {
            throw error("import \(text) is not supported (only rego.v1 and future.keywords)", at: start)
        }
        if isWord("as") { throw error("import aliases are not supported", at: peek) }
    }

    // MARK: rules

    mutating func rule() throws(RegoError) -> Rule {
        let start = peek
        let position = Position(line: start.line, column: start.column)
        let isDefault = isWord("default")
        if isDefault { _ = next() }
        guard let name = next().identifier else { throw error("expected a rule name, found \(describe(start))", at: start) }
        guard !["import", "package", "else", "if", "some", "every", "not", "with"].contains(name) else {
            throw error("unexpected \"\(name)\"", at: start)
        }
        if isSymbol(".") { throw error("rule names with references (\(name).…) are not supported") }
        if isDefault {
            guard isSymbol(":=") || isSymbol("=") else { throw error("default \(name) needs := or = and a value") }
            _ = next()
            let value = try term()
            return Rule(kind: .complete, name: name, value: value, body: [], isDefault: true, position: position)
        }
        var rule = Rule(kind: .complete, name: name, value: .value(.bool(true)), body: [], position: position)
        if isSymbol("(") {
            _ = next()
            nesting += 1
            rule.kind = .function
            if !isSymbol(")") {
                repeat { rule.arguments.append(try term()) } while isSymbol(",") && { _ = next(); return true }()
            }
            nesting -= 1
            try expect(")")
        } else if isSymbol("[") {
            _ = next()
            nesting += 1
            rule.key = try term()
            nesting -= 1
            try expect("]")
            rule.kind = .partialSet
        } else if isWord("contains") {
            _ = next()
            rule.key = try term()
            rule.kind = .partialSet
        }
        var hasValue = false
        if isSymbol(":=") || isSymbol("=") {
            _ = next()
            rule.value = try term()
            hasValue = true
            if rule.kind == .partialSet { rule.kind = .partialObject }
        }
        if rule.kind == .partialSet, let key = rule.key { rule.value = key }
        rule.body = try ruleBody(required: !hasValue && rule.kind != .function && rule.kind != .complete)
        if rule.kind == .complete && !hasValue && rule.body.isEmpty && !bodyWasGiven {
            throw error("rule \(name) has neither a value nor a body", at: start)
        }
        while isWord("else") {
            guard rule.kind == .complete || rule.kind == .function else { throw error("else is only for complete rules and functions") }
            _ = next()
            var value: Term = .value(.bool(true))
            if isSymbol(":=") || isSymbol("=") {
                _ = next()
                value = try term()
            }
            let body = try ruleBody(required: false)
            rule.elses.append((value, body))
        }
        if peek.kind != .end && peek.line == previousLine && !isSymbol(";") {
            if isWord("with") { throw error("the with keyword is not supported") }
            throw error("unexpected \(describe(peek)) after the rule")
        }
        return rule
    }

    var bodyWasGiven = false

    /// `if { … }`, `if expr`, `{ … }` (the older form), or nothing (a constant).
    mutating func ruleBody(required: Bool) throws(RegoError) -> [Expr] {
        bodyWasGiven = false
        if isWord("if") {
            _ = next()
            bodyWasGiven = true
            if isSymbol("{") { return try block() }
            let saved = nesting
            nesting = 0
            defer { nesting = saved }
            return [try expression()]
        }
        if isSymbol("{") && peek.line == previousLine {
            bodyWasGiven = true
            let body = try block()
            if isSymbol("{") && peek.line == previousLine { throw error("rules with more than one body are not supported") }
            return body
        }
        if required { throw error("expected a rule body") }
        return []
    }

    /// `{ expr (newline | ;) … }`.
    /// (Expressions per body are bounded by evaluation frames, not here.)
    mutating func block() throws(RegoError) -> [Expr] {
        try expect("{")
        let saved = nesting
        nesting = 0
        defer { nesting = saved }
        let body = try expressions(until: "}")
        try expect("}")
        return body
    }

    mutating func expressions(until closing: String) throws(RegoError) -> [Expr] {
        var body: [Expr] = []
        while true {
            while isSymbol(";") { _ = next() }
            if isSymbol(closing) { break }
            if peek.kind == .end { throw error("expected \"\(closing)\" before the end of the policy") }
            body.append(try expression())
            if isWord("with") { throw error("the with keyword is not supported") }
            guard isSymbol(";") || isSymbol(closing) || peek.line != previousLine else {
                throw error("unexpected \(describe(peek)) in the body")
            }
        }
        guard !body.isEmpty else { throw error("a body needs at least one expression") }
        return body
    }

    // MARK: expressions

    mutating func expression() throws(RegoError) -> Expr {
        if isWord("some") {
            _ = next()
            var terms = [try someTerm()]
            while isSymbol(",") {
                _ = next()
                terms.append(try someTerm())
            }
            if isWord("in") {
                _ = next()
                guard terms.count <= 2 else { throw error("some takes at most a key and a value before in") }
                let collection = try orTerm()
                return terms.count == 2 ? .someIn(terms[0], terms[1], collection) : .someIn(nil, terms[0], collection)
            }
            var names: [String] = []
            for term in terms {
                guard case .variable(let name) = term else { throw error("some declares variables") }
                names.append(name)
            }
            return .some(names)
        }
        if isWord("every") {
            let start = next()
            guard let first = next().identifier else { throw error("every needs a variable", at: start) }
            var key: String?, value = first
            if isSymbol(",") {
                _ = next()
                guard let second = next().identifier else { throw error("every needs a value variable", at: start) }
                key = first
                value = second
            }
            guard isWord("in") else { throw error("expected in after every's variables") }
            _ = next()
            let collection = try orTerm()
            let body = try block()
            return .every(key == "_" ? wildcard() : key, value == "_" ? wildcard() : value, collection, body)
        }
        if isWord("not") {
            _ = next()
            termDepth += 1
            defer { termDepth -= 1 }
            guard termDepth <= Self.maxTermDepth else { throw error("not nests deeper than \(Self.maxTermDepth) levels") }
            return .not(try expression())
        }
        let left = try term()
        if isSymbol(",") && nesting == 0 {
            // `k, v in xs` as an expression.
            _ = next()
            let value = try orTerm()
            guard isWord("in") else { throw error("expected in after \"k, v\"") }
            _ = next()
            return .term(.membership(left, value, try orTerm()))
        }
        if isSymbol(":=") {
            _ = next()
            return .assign(left, try term())
        }
        if isSymbol("=") {
            _ = next()
            return .unify(left, try term())
        }
        return .term(left)
    }

    mutating func someTerm() throws(RegoError) -> Term {
        try orTerm()
    }

    mutating func wildcard() -> String {
        wildcards += 1
        return "_$\(wildcards)"
    }

    // MARK: terms (lowest precedence first)

    /// OPA's precedence, loosest first: `in`, then relations (== != < <= > >=), then `|`, `&`,
    /// `+ -`, `* / %` (ast/parser.go: parseTermIn → parseTermRelation → parseTermOr →
    /// parseTermAnd → parseTermArith → parseTermFactor).
    mutating func term() throws(RegoError) -> Term {
        var left = try comparison()
        while isWord("in") && sameExpression {
            _ = next()
            left = .membership(nil, left, try comparison())
        }
        return left
    }

    mutating func orTerm() throws(RegoError) -> Term {
        var left = try andTerm()
        while isSymbol("|") && !barEndsTerm && sameExpression {
            let at = next()
            left = .call("or", [left, try andTerm()], Position(line: at.line, column: at.column))
        }
        return left
    }

    mutating func andTerm() throws(RegoError) -> Term {
        var left = try additive()
        while isSymbol("&") && sameExpression {
            let at = next()
            left = .call("and", [left, try additive()], Position(line: at.line, column: at.column))
        }
        return left
    }

    static let comparisons = ["==": "equal", "!=": "neq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"]

    mutating func comparison() throws(RegoError) -> Term {
        var left = try orTerm()
        while let symbol = peek.symbol, let name = Self.comparisons[symbol], sameExpression {
            let at = next()
            left = .call(name, [left, try orTerm()], Position(line: at.line, column: at.column))
        }
        return left
    }

    mutating func additive() throws(RegoError) -> Term {
        var left = try multiplicative()
        while (isSymbol("+") || isSymbol("-")) && sameExpression {
            let at = next()
            left = .call(at.symbol == "+" ? "plus" : "minus", [left, try multiplicative()], Position(line: at.line, column: at.column))
        }
        return left
    }

    mutating func multiplicative() throws(RegoError) -> Term {
        var left = try unary()
        while (isSymbol("*") || isSymbol("/") || isSymbol("%")) && sameExpression {
            let at = next()
            let name = at.symbol == "*" ? "mul" : at.symbol == "/" ? "div" : "rem"
            left = .call(name, [left, try unary()], Position(line: at.line, column: at.column))
        }
        return left
    }

    mutating func unary() throws(RegoError) -> Term {
        if isSymbol("-") {
            let at = next()
            if case .number(let lexeme) = peek.kind, peek.line == at.line {
                _ = next()
                guard let number = RegoNumber(lexeme: "-" + lexeme) else { throw error("invalid number -\(lexeme)", at: at) }
                return .value(.number(number))
            }
            termDepth += 1
            defer { termDepth -= 1 }
            guard termDepth <= Self.maxTermDepth else { throw error("terms nest deeper than \(Self.maxTermDepth) levels") }
            return .call("minus", [.value(.int(0)), try unary()], Position(line: at.line, column: at.column))
        }
        return try postfix()
    }

    mutating func postfix() throws(RegoError) -> Term {
        var base = try primary()
        var selections: [Term] = []
        while true {
            if isSymbol("."), case .identifier(let name) = tokens[index + 1].kind, tokens[index + 1].line == peek.line {
                _ = next()
                _ = next()
                selections.append(.value(.string(name)))
            } else if isSymbol("[") && peek.line == previousLine {
                _ = next()
                nesting += 1
                let savedBar = barEndsTerm
                barEndsTerm = false
                let key = try term()
                barEndsTerm = savedBar
                nesting -= 1
                try expect("]")
                selections.append(key)
            } else {
                break
            }
        }
        if !selections.isEmpty {
            if case .ref(let head, let existing) = base { base = .ref(head, existing + selections) } else { base = .ref(base, selections) }
        }
        return base
    }

    mutating func primary() throws(RegoError) -> Term {
        termDepth += 1
        defer { termDepth -= 1 }
        guard termDepth <= Self.maxTermDepth else { throw error("terms nest deeper than \(Self.maxTermDepth) levels") }
        let token = peek
        switch token.kind {
        case .string(let s):
            _ = next()
            return .value(.string(s))
        case .number(let lexeme):
            _ = next()
            guard let number = RegoNumber(lexeme: lexeme) else { throw error("invalid number \(lexeme)", at: token) }
            return .value(.number(number))
        case .identifier(let name):
            switch name {
            case "true": _ = next(); return .value(.bool(true))
            case "false": _ = next(); return .value(.bool(false))
            case "null": _ = next(); return .value(.null)
            case "_": _ = next(); return .variable(wildcard())
            case "with": throw error("the with keyword is not supported")
            case "some", "every", "not", "if", "else", "package", "import", "default":
                throw error("unexpected \"\(name)\"")
            default: break
            }
            _ = next()
            // A dotted name followed by "(" is a call (time.now_ns(), regex.match(…)).
            var dotted = [name]
            var lookahead = index
            while tokens[lookahead].symbol == ".", case .identifier(let part) = tokens[lookahead + 1].kind {
                dotted.append(part)
                lookahead += 2
            }
            if tokens[lookahead].symbol == "(" && tokens[lookahead].line == token.line {
                while index < lookahead { _ = next() }
                _ = next()
                nesting += 1
                let savedBar = barEndsTerm
                barEndsTerm = false
                var arguments: [Term] = []
                if !isSymbol(")") {
                    repeat {
                        arguments.append(try term())
                        guard arguments.count <= Self.maxLiteralItems else { throw error("a call with more than \(Self.maxLiteralItems) arguments") }
                    } while isSymbol(",") && { _ = next(); return true }()
                }
                barEndsTerm = savedBar
                nesting -= 1
                try expect(")")
                return .call(dotted.joined(separator: "."), arguments, Position(line: token.line, column: token.column))
            }
            return .variable(name)
        case .symbol("("):
            _ = next()
            nesting += 1
            let savedBar = barEndsTerm
            barEndsTerm = false
            let inner = try term()
            barEndsTerm = savedBar
            nesting -= 1
            try expect(")")
            return inner
        case .symbol("["):
            return try arrayOrComprehension()
        case .symbol("{"):
            return try objectSetOrComprehension()
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    mutating func comprehensionBody(closing: String) throws(RegoError) -> [Expr] {
        let saved = nesting
        nesting = 0
        defer { nesting = saved }
        let savedBar = barEndsTerm
        barEndsTerm = false
        defer { barEndsTerm = savedBar }
        return try expressions(until: closing)
    }

    /// The first element of a collection: a `|` after it starts a comprehension.
    mutating func element() throws(RegoError) -> Term {
        let saved = barEndsTerm
        barEndsTerm = true
        defer { barEndsTerm = saved }
        return try term()
    }

    /// The rest of an array or set literal after its first item, through `closing` (a trailing
    /// comma allowed), bounded in items.
    mutating func items(after first: Term, closing: String) throws(RegoError) -> [Term] {
        var items = [first]
        while isSymbol(",") {
            _ = next()
            if isSymbol(closing) { break }
            items.append(try element())
            guard items.count <= Self.maxLiteralItems else { throw error("a literal of more than \(Self.maxLiteralItems) items") }
        }
        try expect(closing)
        return items
    }

    mutating func arrayOrComprehension() throws(RegoError) -> Term {
        try expect("[")
        nesting += 1
        defer { nesting -= 1 }
        if isSymbol("]") { _ = next(); return .array([]) }
        let first = try element()
        if isSymbol("|") {
            _ = next()
            let body = try comprehensionBody(closing: "]")
            try expect("]")
            return .arrayComprehension(first, body)
        }
        return .array(try items(after: first, closing: "]"))
    }

    mutating func objectSetOrComprehension() throws(RegoError) -> Term {
        try expect("{")
        nesting += 1
        defer { nesting -= 1 }
        if isSymbol("}") { _ = next(); return .object([]) }
        let first = try element()
        if isSymbol(":") {
            _ = next()
            let value = try element()
            if isSymbol("|") {
                _ = next()
                let body = try comprehensionBody(closing: "}")
                try expect("}")
                return .objectComprehension(first, value, body)
            }
            var pairs = [(first, value)]
            while isSymbol(",") {
                _ = next()
                if isSymbol("}") { break }
                guard pairs.count < Self.maxLiteralItems else { throw error("a literal of more than \(Self.maxLiteralItems) items") }
                let key = try element()
                try expect(":")
                pairs.append((key, try element()))
            }
            try expect("}")
            return .object(pairs)
        }
        if isSymbol("|") {
            _ = next()
            let body = try comprehensionBody(closing: "}")
            try expect("}")
            return .setComprehension(first, body)
        }
        return .set(try items(after: first, closing: "}"))
    }
}
