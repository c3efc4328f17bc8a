#!/usr/bin/env python3
"""Differential suite for the Rego engine (issue #19): random policies from a grammar of the
supported subset, over random Ratify-shaped report sets, evaluated by our engine (rego-eval,
the engine regoPolicy uses) and by regopy (rego-cpp, a real Rego engine). Every rule of every
case must get the same answer from both: the same value, both undefined, or both an error.

usage: differential.py path/to/rego-eval [CASES] [SEED]   (default 20000 cases, seed 19)
Prints "differential: N cases, M rule answers compared, K disagreements"; exits 1 on any.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

from regopy import Interpreter

TYPES = ["notation", "cosign", "sbom", "vulnerabilityreport"]
ARTIFACTS = ["application/vnd.cncf.notary.signature", "application/vnd.dev.cosign.artifact.sig.v1+json",
             "application/spdx+json", "application/sarif+json"]
ISSUERS = ["CN=wabbit,O=Notary", "CN=acme,O=ACME", "CN=other"]


def random_report(rng, depth=0):
    kind = rng.randrange(len(TYPES))
    report = {"subject": f"registry.test/app@sha256:{rng.randrange(16):064x}",
              "isSuccess": rng.random() < 0.6,
              "name": rng.choice(["verifier-" + TYPES[kind], TYPES[kind], "custom"]),
              "type": TYPES[kind], "artifactType": ARTIFACTS[kind],
              "message": rng.choice(["ok", "signature verification success", "failed", ""]),
              "extensions": {"Issuer": rng.choice(ISSUERS), "count": rng.randrange(5)}}
    if rng.random() < 0.3:
        report["errorReason"] = rng.choice(["SIGNATURE_VERIFICATION_FAILED", "REFERRERS_NOT_FOUND"])
    if depth < 2 and rng.random() < 0.4:
        report["nestedReports"] = [random_report(rng, depth + 1) for _ in range(rng.randrange(3))]
    return report


def random_input(rng):
    if rng.random() < 0.03:
        return None
    reports = [random_report(rng) for _ in range(rng.randrange(5))]
    if rng.random() < 0.5:
        return {"verifierReports": reports}
    # Ratify's regoPolicy input: one entry per referrer, each with its verifier reports.
    return {"verifierReports": [{"subject": r["subject"], "artifactType": r["artifactType"], "referenceDigest": "sha256:" + "a" * 64,
                                 "verifierReports": [r], "nestedReports": r.get("nestedReports", [])} for r in reports]}


class Generator:
    """Bodies bind `r` to a report before using it; every variable is bound where it is used."""

    def __init__(self, rng):
        self.rng = rng
        self.counter = 0

    def fresh(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def string(self):
        return json.dumps(self.rng.choice(["notation", "cosign", "verifier-", "CN=", "ok", "sbom", "a", ""]))

    def report_source(self):
        return self.rng.choice(["input.verifierReports", "input.verifierReports", "object.get(input, \"verifierReports\", [])"])

    def condition(self, r, negation=True):
        """A boolean expression about report variable `r` (bound). `negation=False` inside
        `every`: rego-cpp (regopy 1.x) answers true for `every x in xs { not … }` whatever xs
        holds, where OPA (and we) answer by the body; the suite leaves that form out."""
        rng = self.rng
        choices = [
            lambda: f"{r}.isSuccess",
            lambda: f"not {r}.isSuccess" if negation else f"{r}.isSuccess == false",
            lambda: f"{r}.isSuccess == {rng.choice(['true', 'false'])}",
            lambda: f"{r}.type == {json.dumps(rng.choice(TYPES))}",
            lambda: f"{r}.type != {json.dumps(rng.choice(TYPES))}",
            lambda: f"startswith({r}.name, {self.string()})",
            lambda: f"endswith({r}.name, {json.dumps(rng.choice(['cation', 'cosign', 'sbom', 'x']))})",
            lambda: f"contains(lower({r}.message), {json.dumps(rng.choice(['success', 'fail', 'ok']))})",
            lambda: f"count(object.get({r}, \"nestedReports\", [])) {rng.choice(['>', '>=', '==', '<'])} {rng.randrange(3)}",
            lambda: f"{r}.extensions.count {rng.choice(['>', '<', '==', '!=', '>=', '<='])} {rng.randrange(5)}",
            lambda: f"{r}.extensions.Issuer in {{{', '.join(json.dumps(i) for i in rng.sample(ISSUERS, 2))}}}",
            lambda: f"regex.match({json.dumps(rng.choice(['^CN=w', 'acme', 'O=.*$', '^$']))}, {r}.extensions.Issuer)",
            lambda: f"every each in object.get({r}, \"nestedReports\", []) {{ each.isSuccess }}",
            lambda: (lambda n: f"some {n} in object.get({r}, \"nestedReports\", []); {n}.type == {json.dumps(rng.choice(TYPES))}")(self.fresh("nested")),
            lambda: f"object.get({r}, \"errorReason\", \"\") == {json.dumps(rng.choice(['', 'REFERRERS_NOT_FOUND']))}",
            lambda: f"split({r}.artifactType, \"/\")[0] == \"application\"",
            lambda: f"sprintf(\"%s:%v\", [{r}.type, {r}.isSuccess]) == {json.dumps(rng.choice(['notation:true', 'cosign:false', 'sbom:true']))}",
            lambda: f"upper({r}.type) == {json.dumps(rng.choice([t.upper() for t in TYPES]))}",
        ]
        return rng.choice(choices)()

    def aggregate(self):
        """A number computed over all reports."""
        rng = self.rng
        cond = self.condition("x")
        choices = [
            lambda: f"count([x | some x in {self.report_source()}; {cond}])",
            lambda: f"count({{x.type | some x in {self.report_source()}; {cond}}})",
            lambda: f"sum([x.extensions.count | some x in {self.report_source()}])",
            lambda: f"count({self.report_source()})",
            lambda: f"count([1 | some i; x := input.verifierReports[i]; {cond}])",
        ]
        return rng.choice(choices)()

    def body(self, depth=0):
        rng = self.rng
        forms = [
            lambda: f"some r in {self.report_source()}\n\t{self.condition('r')}",
            lambda: f"r := input.verifierReports[_]\n\t{self.condition('r')}\n\t{self.condition('r')}",
            lambda: f"some i, r in input.verifierReports\n\ti {rng.choice(['>=', '<', '=='])} {rng.randrange(3)}\n\t{self.condition('r')}",
            lambda: f"{self.aggregate()} {rng.choice(['>', '>=', '==', '<', '!='])} {rng.randrange(4)}",
            lambda: f"every r in input.verifierReports {{ {self.condition('r', negation=False)} }}",
            lambda: f"not any_match",
            lambda: f"c1 := {self.aggregate()}\n\tc2 := {self.aggregate()}\n\tc1 {rng.choice(['+', '-', '*'])} c2 {rng.choice(['>', '==', '<='])} {rng.randrange(5)}",
            lambda: f"s := {{x.type | some x in input.verifierReports}}\n\tt := {{{', '.join(json.dumps(t) for t in rng.sample(TYPES, 2))}}}\n\tcount(s {rng.choice(['|', '&', '-'])} t) {rng.choice(['>', '=='])} {rng.randrange(3)}",
            lambda: f"s := {{x.type | some x in input.verifierReports}}\n\ts {rng.choice(['&', '|', '-'])} {{{json.dumps(rng.choice(TYPES))}}} {rng.choice(['==', '!='])} {{{json.dumps(rng.choice(TYPES))}}}",
            lambda: f"[path, value] := walk(input)\n\tvalue == false\n\tpath[count(path) - 1] == \"isSuccess\"",
            lambda: f"some x in input.verifierReports\n\tok(x)",
            lambda: f"names := concat(\",\", sort([x.name | some x in input.verifierReports]))\n\tcontains(names, {self.string()})",
            lambda: f"max([0] | [x.extensions.count | some x in input.verifierReports]) {rng.choice(['>', '<'])} {rng.randrange(5)}"
                    if False else f"max(array.concat([0], [x.extensions.count | some x in input.verifierReports])) {rng.choice(['>', '<', '>='])} {rng.randrange(5)}",
            lambda: f"some k, v in input\n\tk == \"verifierReports\"\n\tcount(v) > {rng.randrange(3)}",
            lambda: f"input.verifierReports[{rng.randrange(3)}].isSuccess",
        ]
        return rng.choice(forms)()

    def policy(self, style):
        rng = self.rng
        header = "package p\n\n" + ("import rego.v1\n" if style == "v1" else "import future.keywords.if\nimport future.keywords.in\nimport future.keywords.every\nimport future.keywords.contains\n")
        rules = []
        rules.append(f"any_match if {{\n\t{self.body()}\n}}")
        rules.append(f"ok(r) if {{\n\t{self.condition('r')}\n}}")
        rules.append(f"default valid := false\n\nvalid if {{\n\t{self.body()}\n}}")
        if rng.random() < 0.5:
            rules.append(f"valid if {{\n\t{self.body()}\n}}")
        rules.append(f"total := {self.aggregate()}")
        rules.append(f"label := \"first\" if {{\n\t{self.body()}\n}} else := \"second\" if {{\n\t{rename_locals(self.body(), '2')}\n}} else := \"none\"")
        rules.append(f"kinds contains t if {{\n\tsome r in input.verifierReports\n\t{self.condition('r')}\n\tt := r.type\n}}")
        rules.append(f"by_name[key] := r.isSuccess if {{\n\tsome i, r in input.verifierReports\n\tr.type == {json.dumps(rng.choice(TYPES))}\n\tkey := sprintf(\"%s-%d\", [r.name, i])\n}}")
        rules.append(f"double(x) := y if {{\n\ty := x * 2\n}}")
        rules.append(f"doubled := [double(n) | some r in input.verifierReports; n := r.extensions.count]")
        rules.append(f"message := sprintf(\"%d reports, %d ok\", [count(input.verifierReports), count([1 | input.verifierReports[_].isSuccess])])")
        if rng.random() < 0.3:
            # An undefined-producing complete rule (no default).
            rules.append(f"maybe := {rng.randrange(10)} if {{\n\t{self.body()}\n}}")
        return header + "\n" + "\n\n".join(rules) + "\n"


def rename_locals(body, suffix):
    """The body's local variables renamed (outside string literals): rego-cpp mixes up variables
    of the same name in different branches of an else chain, where OPA (and we) keep them apart."""
    import re
    parts = re.split(r'("(?:[^"\\]|\\.)*")', body)
    names = r"\b(i|r|x|c1|c2|s|t|names|path|value|k|v|each|nested)\b"
    return "".join(part if part.startswith('"') else re.sub(names, lambda m: m.group(1) + suffix, part) for part in parts)


RULES = ["valid", "any_match", "total", "label", "kinds", "by_name", "doubled", "message", "maybe"]


def reference(policy, data_input):
    interpreter = Interpreter()
    interpreter.add_module("p", policy)
    if data_input is not None:
        interpreter.set_input_term(json.dumps(data_input))
    # One query for every rule (each wrapped so that an undefined rule is []), per-rule queries
    # only when that one fails (a rule's error fails the whole query).
    try:
        out = str(interpreter.query("x := {" + ", ".join(f'"{r}": [v | v := data.p.{r}]' for r in RULES) + "}"))
        if out.startswith("{"):
            values = json.loads(out)["bindings"]["x"]
            return {r: {"result": values[r][0]} if values[r] else {"undefined": True} for r in RULES}
    except (ValueError, RuntimeError):
        pass
    answers = {}
    for rule in RULES:
        try:
            out = str(interpreter.query(f"x := data.p.{rule}"))
        except (ValueError, RuntimeError) as error:
            out = f"<error {error}>"
        if out == "undefined":
            answers[rule] = {"undefined": True}
        elif out.startswith("{"):
            answers[rule] = {"result": json.loads(out)["bindings"]["x"]}
        else:
            answers[rule] = {"error": out}
    return answers


def normalize(value):
    """Numbers compare by value (1 == 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def same(ours, theirs):
    if "error" in theirs or "error" in ours or "load_error" in ours:
        return ("error" in theirs) == ("error" in ours or "load_error" in ours)
    if "undefined" in theirs or "undefined" in ours:
        return ("undefined" in theirs) == ("undefined" in ours)
    return normalize(ours["result"]) == normalize(theirs["result"])


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 19
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        generator = Generator(rng)
        cases.append((generator.policy("v1" if i % 2 else "v0"), random_input(rng)))
    work = tempfile.mkdtemp(prefix="rego-diff-")
    batch = os.path.join(work, "cases.jsonl")
    with open(batch, "w") as f:
        for policy, data_input in cases:
            for rule in RULES:
                f.write(json.dumps({"policy": policy, "input": data_input, "rule": rule}) + "\n")
    # Both engines at once (two cores): ours in its process, regopy here.
    ours_output = os.path.join(work, "ours.jsonl")
    with open(ours_output, "w") as sink:
        ours_process = subprocess.Popen([binary, "--batch", batch], stdout=sink)
    disagreements = []
    compared = 0
    # rego-cpp writes its diagnostics to the process's stdout/stderr: silenced while it runs.
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        answers = [reference(policy, data_input) for policy, data_input in cases]
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
    if ours_process.wait() != 0:
        sys.exit("differential: rego-eval failed")
    with open(ours_output) as f:
        ours = [json.loads(line) for line in f]
    if len(ours) != len(cases) * len(RULES):
        sys.exit(f"differential: rego-eval answered {len(ours)} lines for {len(cases) * len(RULES)} questions")
    for index, (policy, data_input) in enumerate(cases):
        theirs = answers[index]
        for offset, rule in enumerate(RULES):
            compared += 1
            mine = ours[index * len(RULES) + offset]
            if not same(mine, theirs[rule]):
                disagreements.append((index, rule, mine, theirs[rule], policy, data_input))
    for index, rule, mine, theirs, policy, data_input in disagreements[:5]:
        print(f"--- case {index}, rule {rule}: ours {json.dumps(mine)[:300]} / regopy {json.dumps(theirs)[:300]}")
        print(policy)
        print("input:", json.dumps(data_input)[:1500])
    print(f"differential: {len(cases)} cases, {compared} rule answers compared, {len(disagreements)} disagreements (seed {seed})")
    sys.exit(1 if disagreements else 0)


if __name__ == "__main__":
    main()
