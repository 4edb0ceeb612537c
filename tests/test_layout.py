"""The layout's dependency rules (docs/development.md, "Layout"), held to the code.

Every unit of den_tf (a subpackage, or a module directly in den_tf/) says in its
docstring, on a line `Imports: ...`, which other units it may import. These tests read
every import of every module (those inside functions too) and fail on:

* an import of a unit the importer's docstring does not name;
* a cycle between units, and a cycle between modules anywhere, inside one package too
  (`module_graph` says what counts as an edge; test_no_import_cycle_between_modules
  what counts as a cycle; the checker is itself tested on a package made for it);
* den and baselines importing each other, or the library importing the tools (sweep,
  experiments), or the reference tools;
* a tool (sweep, experiments) reaching past a package's public names (a module inside a
  package, or a name starting with "_");
* importing the command line, the config, preflight, datasets or sweep bringing in
  TensorFlow (the refusal of a bad flag in under a second relies on it).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "den_tf")
TOOLS = {"sweep", "experiments"}
PUBLIC = "den_tf (public API)"
# Always allowed: the lazy re-export helper package __init__s use.
HELPERS = {"_lazy"}


def _modules(pkg: str = PKG):
    """(path, dotted module name) of every Python file of the package folder `pkg`
    (den_tf)."""
    out = []
    for root, dirs, files in os.walk(pkg):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, os.path.dirname(pkg))[:-3].replace(os.sep, ".")
                out.append((path, rel[: -len(".__init__")] if rel.endswith(".__init__") else rel))
    return sorted(out)


def unit_of(module: str) -> str:
    """The unit a den_tf module belongs to: its first name below den_tf ('' for den_tf
    itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _docstring(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return ast.get_docstring(ast.parse(f.read())) or ""


def declared(path: str) -> str:
    """The text after 'Imports:' in a module's docstring (lines joined), or None."""
    m = re.search(r"^Imports: (.*?)(?:\n\n|\Z)", _docstring(path), re.M | re.S)
    return " ".join(m.group(1).split()) if m else None


def rule_of(unit: str) -> str:
    """The declaration that governs `unit`: its package __init__'s, or its module's."""
    pkg = os.path.join(PKG, unit, "__init__.py")
    path = pkg if os.path.isfile(pkg) else os.path.join(PKG, unit + ".py")
    if unit == "":
        path = os.path.join(PKG, "__init__.py")
    return declared(path)


def allowed_units(rule: str) -> set:
    if rule is None:
        return set()
    names = re.findall(r"den_tf(?:\.(\w+))?", rule)
    return {n for n in names}


def imports_of(path: str, module: str):
    """Every (imported module, imported names, line) of a file, inside functions too;
    relative imports resolved. `import a.b` gives ("a.b", [], line), `from a import b, c`
    ("a", ["b", "c"], line)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((name, [a.name for a in node.names], node.lineno))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            out.append((node.args[0].value, [], node.lineno))
    return [(m, names, line) for m, names, line in out if m == "den_tf" or m.startswith("den_tf.")]


def _targets(imported: str, names):
    """The den_tf modules an import statement reaches ('from den_tf import x' reaches
    den_tf.x when x is a module)."""
    if imported == "den_tf":
        return ["den_tf." + n if os.path.exists(os.path.join(PKG, n)) or
                os.path.exists(os.path.join(PKG, n + ".py")) else "den_tf" for n in names]
    return [imported]


def edges():
    """(importer unit, imported unit, file, line, imported module, names)."""
    out = []
    for path, module in _modules():
        src = unit_of(module)
        for imported, names, line in imports_of(path, module):
            for target in _targets(imported, names):
                dst = unit_of(target)
                if dst != src:
                    out.append((src, dst, os.path.relpath(path, ROOT), line, target, names))
    return out


UNITS = sorted({unit_of(m) for _, m in _modules()})


def test_every_unit_declares_what_it_imports():
    missing = [u or "den_tf" for u in UNITS if rule_of(u) is None]
    assert not missing, f"no 'Imports:' line in the docstring of {missing}"


def test_imports_follow_the_declared_rules():
    bad = []
    for src, dst, path, line, target, names in edges():
        if dst in HELPERS:
            continue
        rule = rule_of(src)
        if PUBLIC in rule:
            continue  # checked by test_tools_use_only_the_public_api
        if dst not in allowed_units(rule):
            bad.append(f"{path}:{line}: {src or 'den_tf'} imports {target} "
                       f"(its rule: Imports: {rule})")
    assert not bad, "\n".join(bad)


def test_no_cycle_between_units():
    graph = {}
    for src, dst, *_ in edges():
        if dst not in HELPERS and src != "" and dst != "":
            graph.setdefault(src, set()).add(dst)
    seen, stack, cycles = set(), [], []

    def visit(u):
        if u in stack:
            cycles.append(stack[stack.index(u):] + [u])
            return
        if u in seen:
            return
        seen.add(u)
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            visit(v)
        stack.pop()

    for u in sorted(graph):
        visit(u)
    assert not cycles, f"import cycles between units: {cycles}"


def lazy_exports(init_path: str) -> dict:
    """{name: the module defining it} of a package __init__'s lazy re-exports
    (`exports(__name__, {"Name": ".module"})`, den_tf/_lazy.py), modules as written
    (relative to the package)."""
    with open(init_path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    out = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "exports"
                and len(node.args) == 2 and isinstance(node.args[1], ast.Dict)):
            for key, value in zip(node.args[1].keys, node.args[1].values):
                out[key.value] = value.value
    return out


def module_graph(pkg: str = PKG) -> dict:
    """{module: {module it imports: first line}} over every module of the package folder
    `pkg` (den_tf and its subpackages; a package is its __init__). What counts as an
    edge (see test_no_import_cycle_between_modules):

    * every import statement of the module, those inside functions too;
    * `import a.b.c`: to a.b.c;
    * `from a.b import c`: to a.b.c when c is a module; else, when the package a.b
      re-exports c lazily (`_lazy.exports`), to the module defining c (that is what the
      import runs); else to a.b itself (the name is read from a.b's namespace, so a.b
      must have run that far);
    * not the parent packages an import runs first (a.b's __init__ for a.b.c): a
      package's __init__ has begun before any of its modules can be imported, so it is
      never waited for; only what a module takes from its namespace counts.
    """
    modules = dict((m, p) for p, m in _modules(pkg))
    lazy = {m: lazy_exports(p) for m, p in modules.items() if p.endswith("__init__.py")}
    graph = {}
    for module, path in modules.items():
        for imported, names, line in imports_of(path, module):
            targets = [imported] if not names else []
            for n in names:
                if f"{imported}.{n}" in modules:
                    targets.append(f"{imported}.{n}")
                elif n in lazy.get(imported, {}):
                    targets.append(importlib.util.resolve_name(lazy[imported][n], imported))
                else:
                    targets.append(imported)
            for target in targets:
                if target in modules and target != module:
                    graph.setdefault(module, {}).setdefault(target, line)
    return graph


def cycles_of(graph: dict) -> list:
    """The import cycles of a module graph: every strongly connected set of more than one
    module (Tarjan), each sorted, with the edges that close it."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                group = sorted(group)
                out.append(group + [f"{a} -> {b} (line {graph[a][b]})" for a in group
                                    for b in sorted(graph.get(a, ())) if b in group])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules():
    """No module of den_tf imports, directly or through others, a module that imports it
    back: over the graph of `module_graph` (imports inside functions too; a name taken
    from a package resolved to the module a lazy re-export runs, or else the package's
    __init__ itself). A package's __init__ that re-exports its modules is no cycle by
    itself; it is one when a module it imports (directly or not) takes a name back from
    the __init__'s own namespace (one the __init__ defines or imports eagerly): that
    module would read a half-run __init__, and work or not by the order of its lines.
    `from pkg import module` reaches the module, not pkg's namespace (Python imports the
    module; the package need only have begun)."""
    found = cycles_of(module_graph())
    assert not found, "import cycles between modules:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("case", ["function", "lazy", "eager", "none"])
def test_the_cycle_checker_finds_a_cycle(tmp_path, case):
    """The checker on a small package made here: a cycle closed by an import inside a
    function, one through a lazy re-export, one through an __init__'s own namespace are
    found; a package that only re-exports its modules, and a module taking a sibling
    module from its package, are none."""
    pkg = tmp_path / "den_tf"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "_lazy.py": "def exports(package, names):\n    return None, None\n",
        "sub/__init__.py": ("from den_tf._lazy import exports\n"
                            "from den_tf.sub.eager import E\n"
                            "__getattr__, __dir__ = exports(__name__, {'L': '.lazy'})\n"
                            "CONSTANT = 1\n"),
        "sub/eager.py": "from den_tf.sub import sibling\nE = sibling.S\n",
        "sub/sibling.py": "S = 1\n",
        "sub/lazy.py": "L = 1\n",
        "a.py": "from den_tf.sub import L\n",
        "b.py": "",
    }
    expected = []
    if case == "function":
        files["b.py"] = "from den_tf.a import L\n"
        files["sub/lazy.py"] = "L = 1\n\ndef f():\n    from den_tf.b import L\n    return L\n"
        expected = ["den_tf.a", "den_tf.b", "den_tf.sub.lazy"]
    elif case == "lazy":
        files["sub/lazy.py"] = "from den_tf.b import B\nL = B\n"
        files["b.py"] = "from den_tf.sub import L\nB = 1\n"
        expected = ["den_tf.b", "den_tf.sub.lazy"]
    elif case == "eager":
        files["sub/sibling.py"] = "from den_tf.sub import CONSTANT\nS = CONSTANT\n"
        expected = ["den_tf.sub", "den_tf.sub.eager", "den_tf.sub.sibling"]
    for name, text in files.items():
        (pkg / name).write_text(text)
    found = cycles_of(module_graph(str(pkg)))
    assert [c[:len(expected)] for c in found] == ([expected] if expected else []), found


def test_den_and_baselines_are_independent_and_tools_stay_above():
    bad = []
    for src, dst, path, line, target, _ in edges():
        if {src, dst} == {"den", "baselines"}:
            bad.append(f"{path}:{line}: {src} imports {target}")
        if dst in TOOLS and src not in TOOLS:
            bad.append(f"{path}:{line}: the library ({src}) imports the tool {target}")
        if dst == "reference" and src not in TOOLS | {"reference"}:
            bad.append(f"{path}:{line}: the library ({src}) imports {target}")
    assert not bad, "\n".join(bad)


def test_tools_use_only_the_public_api():
    """A tool imports den_tf's packages and their exported names, never a module inside
    a package of the library, and never a private name."""
    bad = []
    for src, dst, path, line, target, names in edges():
        if src not in TOOLS or dst in TOOLS or dst in HELPERS:
            continue
        inner = target.count(".") > 1
        private = [n for n in names if n.startswith("_")]
        if inner or private:
            bad.append(f"{path}:{line}: {src} imports {target} {names}")
    assert not bad, "\n".join(bad)


def test_the_rules_themselves_have_no_cycle():
    graph = {u: allowed_units(rule_of(u)) - {u} - HELPERS for u in UNITS if u}
    order, done = [], set()

    def visit(u, path):
        assert u not in path, f"the declared rules form a cycle: {path + [u]}"
        if u in done:
            return
        for v in sorted(graph.get(u, ())):
            if v in graph:
                visit(v, path + [u])
        done.add(u)
        order.append(u)

    for u in sorted(graph):
        visit(u, [])
    assert set(order) == set(graph)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    """The import reader counts an import inside a function (a mutation would escape
    otherwise)."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from den_tf.den import trainer\n    return trainer\n")
    assert imports_of(str(f), "den_tf.io.m") == [("den_tf.den", ["trainer"], 2)]


@pytest.mark.parametrize("module", ["den_tf.cli", "den_tf.flags", "den_tf.config",
                                    "den_tf.preflight", "den_tf.datasets", "den_tf.sweep",
                                    "den_tf.sweep.command"])
def test_no_tensorflow_on_import(module):
    code = (f"import sys, {module}; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "print(','.join(bad))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "", f"importing {module} imports {p.stdout.strip()}"
