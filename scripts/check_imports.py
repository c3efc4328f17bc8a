#!/usr/bin/env python3
"""Checks every `import` of a project module under Sources/ against the module table in
docs/architecture.md (between <!-- imports:begin --> and <!-- imports:end -->). A module the
table does not list, or an import the table does not allow, fails `make test`."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
doc = open(os.path.join(ROOT, "docs", "architecture.md")).read()
table = doc.split("<!-- imports:begin -->")[1].split("<!-- imports:end -->")[0]
allowed = {}
for line in table.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 2 or cells[0] in ("module", "") or set(cells[0]) <= {"-"}:
        continue
    allowed[cells[0]] = set() if cells[1] in ("—", "-", "") else {m.strip() for m in cells[1].split(",")}

sources = os.path.join(ROOT, "Sources")
modules = sorted(d for d in os.listdir(sources) if os.path.isdir(os.path.join(sources, d)))
system_libraries = {"COpenSSL", "CCurl", "CHiredis"}  # module maps only, no code
pattern = re.compile(r"^\s*(?:@testable\s+|internal\s+|public\s+|package\s+|@_exported\s+)*import\s+(\w+)", re.M)
passed = failed = 0
for module in modules:
    if module in system_libraries:
        continue
    if module not in allowed:
        print(f"FAIL {module}: not in the module table of docs/architecture.md")
        failed += 1
        continue
    found = set()
    for directory, _, files in os.walk(os.path.join(sources, module)):
        for name in files:
            if name.endswith(".swift"):
                found |= set(pattern.findall(open(os.path.join(directory, name)).read()))
    project = {m for m in found if m in modules}
    wrong = sorted(project - allowed[module] - system_libraries)
    if module in project:
        wrong.append(f"{module} (itself)")
    if wrong:
        print(f"FAIL {module} imports {', '.join(wrong)}, which docs/architecture.md does not allow")
        failed += 1
    else:
        passed += 1
for module in sorted(set(allowed) - set(modules)):
    print(f"FAIL docs/architecture.md lists {module}, which is not a module under Sources/")
    failed += 1
print(f"imports: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
