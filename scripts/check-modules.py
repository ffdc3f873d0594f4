#!/usr/bin/env python3
"""Checks the library's module graph: no import cycle between files, and the dependency
direction ARCHITECTURE.md writes down (inside `src/test_scheduler/`, and between the layers).

A node is a file of `src/`. An edge A -> B means code in A names an item defined in B: a
`use` (resolved through `pub use` re-exports to the file that defines the item), a qualified
path (`crate::x::y`, `super::z`, `child::w`), or a macro's `$crate::...` path. Comments, strings,
`mod x;` declarations, re-exports themselves and `#[cfg(test)]` modules are not edges (a test
module may reach anywhere in its file's crate; it is not part of the architecture).

Usage: scripts/check-modules.py [--graph] [--root src] [--self-test]
Exits 1 on a cycle or a forbidden edge, naming each; prints one summary line. `--self-test`
first checks that the checker itself finds a planted cycle and a planted forbidden edge.
"""
import os
import re
import sys
from collections import defaultdict

# The dependency direction, written down (ARCHITECTURE.md, "Layers"): for files under the
# first prefix, edges into files under any prefix of the second list are forbidden.
FORBIDDEN = [
    # The engine runs the simulation; it takes directions (explore/) and records (the
    # timeline's recorder), and knows nothing of the handle, the harness or the file writers.
    ("test_scheduler/engine/", ["test_scheduler/mod.rs", "test_scheduler/harness/",
                                "test_scheduler/timeline/chrome_trace.rs"]),
    # Strategies are pure decisions over candidates: they import no engine state.
    ("test_scheduler/explore/", ["test_scheduler/mod.rs", "test_scheduler/engine/",
                                 "test_scheduler/harness/", "test_scheduler/timeline/"]),
    # The timeline record and its writer know only the core types.
    ("test_scheduler/timeline/", ["test_scheduler/mod.rs", "test_scheduler/engine/",
                                  "test_scheduler/harness/", "test_scheduler/explore/"]),
    # The harness drives schedules; it does not reach back into the handle.
    ("test_scheduler/harness/", ["test_scheduler/mod.rs"]),
    # The core layers (task, scheduler trait, executors) import no backend and no cloud code.
    ("task/", ["platform/", "cloud/", "test_scheduler/", "executor/"]),
    ("scheduler/", ["platform/", "cloud/", "test_scheduler/", "executor/"]),
    ("executor/background.rs", ["cloud/", "test_scheduler/"]),
    ("executor/foreground.rs", ["cloud/", "test_scheduler/"]),
    # Backends never import the cloud layer (it is above them).
    ("platform/", ["cloud/", "test_scheduler/"]),
    ("test_scheduler/", ["cloud/", "platform/"]),
]


def strip(text):
    """Removes comments, string and char literals (keeps line structure)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            out.append('""')
            out.append("\n" * text.count("\n", i, end))
            i = end + 1 + len(m.group(1))
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            out.append("\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and text.startswith("'\\u{", i)):
            j = text.find("'", i + 1 + (1 if text[i + 1] == "\\" else 0))
            if text[i + 1] == "\\":
                j = text.find("'", i + 2)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(code):
    """Removes `#[cfg(test)]` / `#[cfg(all(test, ...))]` inline modules."""
    while True:
        m = re.search(r"#\[cfg\((?:test|all\(test[^\]]*\)|all\([^\]]*\btest\b[^\]]*\))\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code)
        if not m:
            return code
        depth, i = 1, m.end()
        while depth:
            if code[i] == "{":
                depth += 1
            elif code[i] == "}":
                depth -= 1
            i += 1
        code = code[:m.start()] + "\n" * code.count("\n", m.start(), i) + code[i:]


class Module:
    def __init__(self, path, file):
        self.path = path          # ("test_scheduler", "engine")
        self.file = file          # relative file path
        self.children = {}        # name -> Module
        self.reexports = {}       # name -> absolute path tuple
        self.globs = []           # absolute module paths re-exported with *
        self.code = ""


def split_use_tree(tree):
    """`a::{b, c::{d as e}}` -> [(["a","b"], "b"), (["a","c","d"], "e")]."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def walk(prefix, s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        for part in parts:
            if "{" in part:
                head, rest = part.split("{", 1)
                head_segs = [x for x in head.split("::") if x]
                walk(prefix + head_segs, rest[:-1])
            else:
                alias = None
                if "as" in part and re.search(r"\bas\b", part.replace("::", " :: ")):
                    part, alias = re.split(r"(?<=\w)as(?=\w)", part, maxsplit=1) if "as" in part else (part, None)
                segs = [x for x in part.split("::") if x]
                if not segs:
                    continue
                if segs[-1] == "self":
                    segs = segs[:-1]
                name = alias or (segs[-1] if segs else None)
                results.append((prefix + segs, name))

    walk([], tree)
    return results


USE_RE = re.compile(r"(?:^|[;}\]\s])((?:pub(?:\([^)]*\))?\s+)?)use\s+([^;]+);", re.M)


def load(root):
    crate = Module((), "lib.rs")
    modules = {(): crate}
    pending = [crate]
    while pending:
        module = pending.pop()
        full = os.path.join(root, module.file)
        with open(full, encoding="utf-8") as f:
            raw = f.read()
        code = drop_test_modules(strip(raw))
        module.code = code
        base = os.path.dirname(module.file)
        is_dir_module = os.path.basename(module.file) in ("lib.rs", "mod.rs")
        for m in re.finditer(r"(?:^|\n)\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
            name = m.group(1)
            here = base if is_dir_module else os.path.join(base, os.path.splitext(os.path.basename(module.file))[0])
            candidates = [os.path.join(here, name + ".rs"), os.path.join(here, name, "mod.rs")]
            file = next((c for c in candidates if os.path.exists(os.path.join(root, c))), None)
            if file is None:
                continue
            child = Module(module.path + (name,), os.path.normpath(file))
            module.children[name] = child
            modules[child.path] = child
            pending.append(child)
    return modules


def absolute(module, segs):
    """Absolute module-path segments for a path written in `module`; None if external."""
    if not segs:
        return None
    head = segs[0]
    if head in ("crate", "$crate"):
        return list(segs[1:])
    if head == "self":
        return list(module.path) + list(segs[1:])
    if head == "super":
        path = list(module.path)
        while segs and segs[0] == "super":
            path = path[:-1]
            segs = segs[1:]
        return path + list(segs)
    if head in module.children:
        return list(module.path) + list(segs)
    return None


def collect_reexports(modules):
    for module in modules.values():
        for m in USE_RE.finditer(module.code):
            if not m.group(1).strip():
                continue
            for segs, name in split_use_tree(m.group(2)):
                if segs and segs[-1] == "*":
                    target = absolute(module, segs[:-1])
                    if target is not None:
                        module.globs.append(tuple(target))
                    continue
                target = absolute(module, segs)
                if target is not None and name:
                    module.reexports[name] = tuple(target)


def resolve(modules, path, seen=None):
    """The file that defines the item at absolute `path` (a tuple), or None."""
    seen = seen or set()
    if path in seen:
        return None
    seen.add(path)
    # Walk down the module tree as far as it goes.
    module, i = modules[()], 0
    while i < len(path) and path[i] in module.children:
        module = module.children[path[i]]
        i += 1
    if i == len(path):
        return module.file
    name = path[i]
    if name in module.reexports:
        target = module.reexports[name] + tuple(path[i + 1:])
        return resolve(modules, target, seen)
    for glob in module.globs:
        found = resolve(modules, glob + tuple(path[i:]), seen)
        if found:
            return found
    return module.file


PATH_RE = re.compile(r"(?<![\w:])(\$?crate|super|self|[a-z_][a-z0-9_]*)((?:::\w+)+)")


def edges(modules):
    graph = defaultdict(set)
    for module in modules.values():
        code = module.code
        # Private `use` statements.
        for m in USE_RE.finditer(code):
            if m.group(1).strip():
                continue
            for segs, _ in split_use_tree(m.group(2)):
                if segs and segs[-1] == "*":
                    segs = segs[:-1]
                target = absolute(module, segs)
                if target is None:
                    continue
                file = resolve(modules, tuple(target))
                if file and file != module.file:
                    graph[module.file].add(file)
        # Qualified paths in code (outside `use` lines and `mod` declarations).
        body = USE_RE.sub(" ", code)
        for m in PATH_RE.finditer(body):
            segs = [m.group(1)] + [s for s in m.group(2).split("::") if s]
            target = absolute(module, segs)
            if target is None:
                continue
            file = resolve(modules, tuple(target))
            if file and file != module.file:
                graph[module.file].add(file)
    return graph


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    nodes = set(graph) | {w for ws in graph.values() for w in ws}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def analyse(root):
    """(files, edges, graph, problems) of the tree at `root`."""
    modules = load(root)
    collect_reexports(modules)
    graph = edges(modules)
    problems = []
    for comp in cycles(graph):
        inside = {v: sorted(w for w in graph[v] if w in comp) for v in comp}
        problems.append("import cycle between " + ", ".join(comp) + ": " +
                        "; ".join(f"{v} -> {', '.join(ws)}" for v, ws in inside.items()))
    for source, targets in sorted(graph.items()):
        for prefix, forbidden in FORBIDDEN:
            if not source.startswith(prefix):
                continue
            for target in sorted(targets):
                if target.startswith(prefix) and not any(target == f for f in forbidden):
                    continue
                if any(target.startswith(f) for f in forbidden):
                    problems.append(f"forbidden edge {source} -> {target} (rule: {prefix} must not import {', '.join(forbidden)})")
    return len(modules), sum(len(v) for v in graph.values()), graph, problems


def self_test():
    """Plants a cycle (through a re-export and a qualified path) and a forbidden edge in a
    throwaway tree, and fails unless both are reported; a clean tree must report nothing."""
    import tempfile
    files = {
        "lib.rs": "mod a;\nmod b;\nmod test_scheduler;\npub use a::Thing;\n",
        "a.rs": "use crate::b::helper;\npub struct Thing;\n",
        "b.rs": "pub fn helper() -> crate::Thing { crate::Thing }\n",
        "test_scheduler/mod.rs": "mod engine;\nmod harness;\npub struct TestScheduler;\n",
        "test_scheduler/engine/mod.rs": "use crate::test_scheduler::harness::Plan;\n",
        "test_scheduler/harness/mod.rs": "pub struct Plan; // crate::b::helper in a comment\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
        _, _, _, problems = analyse(root)
        found_cycle = any("import cycle between a.rs, b.rs" in p for p in problems)
        found_edge = any("forbidden edge test_scheduler/engine/mod.rs -> test_scheduler/harness/mod.rs" in p for p in problems)
        with open(os.path.join(root, "b.rs"), "w") as f:
            f.write("pub fn helper() {}\n")
        with open(os.path.join(root, "test_scheduler/engine/mod.rs"), "w") as f:
            f.write("\n")
        _, _, _, clean = analyse(root)
    if not (found_cycle and found_edge and not clean):
        print("check-modules: self-test FAILED: planted cycle found:", found_cycle,
              "planted forbidden edge found:", found_edge, "clean tree problems:", clean)
        sys.exit(1)
    print("check-modules: self-test passed (a planted cycle and forbidden edge are reported)")


def main():
    root = "src"
    args = sys.argv[1:]
    if "--root" in args:
        root = args[args.index("--root") + 1]
    if "--self-test" in args:
        self_test()
    files, n_edges, graph, problems = analyse(root)
    if "--graph" in args:
        for v in sorted(graph):
            print(v, "->", ", ".join(sorted(graph[v])))
    for problem in problems:
        print("check-modules:", problem)
    print(f"check-modules: {files} files, {n_edges} edges, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
