"""docs/algorithm.md ("DEN step by step") held to the code that cites it (issue 31).

* Every anchor that a docstring or comment of den_tf cites, `algorithm.md#expansion` or
  `faithfulness.md#q7` (with or without `docs/`; a list may continue with bare anchors,
  `algorithm.md#task-1, #later-tasks and #end-of-task`), is an anchor of that page.
* The page keeps the anchors of its steps (the ids the code cites), and the links of the
  docs pages into algorithm.md and faithfulness.md resolve.
* Every den_tf module (`den_tf/den/expansion.py`) and dotted name
  (`den_tf.den.expansion.prune`, `den_tf.learner.frame.Learner.finish_task`) the page
  names exists: the module file, and the function, class or assignment defined in it
  (or a package's lazily exported name), and a class's own method or field. Found with
  ast: nothing is imported.
* The figure's reader (den_tf.experiments.units_figure) lays out a task's units from the
  checkpoint records.

Anchors are computed as mkdocs builds them: an explicit `{#id}` on a heading (attr_list),
else the toc extension's slug of the heading's text; and every HTML `id="..."`.
None of this needs mkdocs, the network or TensorFlow.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
import unicodedata

import pytest

from tests.conftest import ROOT

DOCS = os.path.join(ROOT, "docs")
PKG = os.path.join(ROOT, "den_tf")
PAGE = "algorithm.md"
# The anchors the code cites (docs/algorithm.md): renaming one breaks every citation.
STEP_ANCHORS = {
    "steps", "network", "output", "settings", "benchmark", "shared", "initial-values",
    "minibatches", "objective", "optimizer", "proximal", "validation", "early-stopping",
    "task-1", "later-tasks", "selective-retraining", "head-only", "selection", "retraining",
    "union", "expansion-decision", "expansion", "pruning", "split", "end-of-task",
    "timestamps", "evaluation", "auroc", "checkpoint", "log-lines", "figure",
    "paper-figures",
}
CITATION = re.compile(
    r"(?:docs/)?(algorithm|faithfulness)\.md#([A-Za-z0-9_-]+)"
    r"((?:\s*(?:,|\band\b|\bto\b)\s*#[A-Za-z0-9_-]+)*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{#([A-Za-z0-9_-]+)\})?\s*#*\s*$")
HTML_ID = re.compile(r"<[a-zA-Z][^>]*?\s(?:id|name)=\"([^\"]+)\"")
DOTTED = re.compile(r"(?<![\w/.-])den_tf(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w/.-])den_tf/[\w/]+\.py\b")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


# ----------------------------------------------------------------------------- anchors
def slugify(text: str) -> str:
    """The toc extension's slug of a heading's text (Python-Markdown's `slugify`)."""
    text = re.sub(r"`([^`]*)`", r"\1", text)  # inline code keeps its text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown: str) -> set:
    """The anchors a page has: heading ids (explicit or slugged; a repeated slug gets
    _1, _2 as toc gives it) and HTML ids, outside fenced code."""
    out, fenced = set(), False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = HEADING.match(line)
        if m:
            anchor = m.group(3) or slugify(m.group(2))
            base, n = anchor, 0
            while anchor in out:
                n += 1
                anchor = f"{base}_{n}"
            out.add(anchor)
        out.update(HTML_ID.findall(line))
    return out


def page_anchors(page: str) -> set:
    return anchors(_read(os.path.join(DOCS, page)))


# ----------------------------------------------------------------------------- citations
def comments_and_strings(path: str):
    """(line, text) of every comment and string literal of a Python file."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            yield tok.start[0], tok.string


def python_files(root: str):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def citations(root: str):
    """(file, line, page, anchor) of every page anchor cited under `root`."""
    for path in python_files(root):
        for line, text in comments_and_strings(path):
            for m in CITATION.finditer(text):
                at = line + text[:m.start()].count("\n")
                page = f"{m.group(1)}.md"
                ids = [m.group(2)] + re.findall(r"#([A-Za-z0-9_-]+)", m.group(3))
                for anchor in ids:
                    yield os.path.relpath(path, os.path.dirname(root)), at, page, anchor


def broken_citations(root: str, pages: dict) -> list:
    """The citations under `root` whose page (in `pages`: name -> anchors) lacks the
    anchor."""
    return [f"{path}:{line}: {page}#{anchor}" for path, line, page, anchor in citations(root)
            if anchor not in pages[page]]


def _cited_pages() -> dict:
    return {p: page_anchors(p) for p in (PAGE, "faithfulness.md")}


def test_every_cited_anchor_exists():
    bad = broken_citations(PKG, _cited_pages())
    assert not bad, "citations of anchors the pages do not have:\n" + "\n".join(bad)


def test_the_page_keeps_the_step_anchors():
    missing = STEP_ANCHORS - page_anchors(PAGE)
    assert not missing, f"docs/{PAGE} lost the anchors {sorted(missing)} (the code cites them)"
    q_rows = {f"q{i}" for i in range(1, 16)} - page_anchors("faithfulness.md")
    assert not q_rows, f"docs/faithfulness.md lost the Q-row anchors {sorted(q_rows)}"


def doc_links(markdown: str, page: str):
    """(target page, anchor) of every markdown link with an anchor, outside code."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    for target, anchor in re.findall(r"\]\(([\w./-]*?\.md)?#([A-Za-z0-9_-]+)\)", text):
        yield (os.path.normpath(os.path.join(os.path.dirname(page), target))
               if target else page), anchor


def test_links_into_the_two_pages_resolve():
    """Links of every docs page to an anchor of algorithm.md or faithfulness.md (mkdocs
    --strict checks them in CI too; this runs wherever the tests run)."""
    pages = _cited_pages()
    bad = []
    for dirpath, _, filenames in os.walk(DOCS):
        for f in filenames:
            if not f.endswith(".md"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), DOCS)
            for target, anchor in doc_links(_read(os.path.join(DOCS, rel)), rel):
                if target in pages and anchor not in pages[target]:
                    bad.append(f"docs/{rel}: {target}#{anchor}")
    assert not bad, "links to missing anchors:\n" + "\n".join(bad)


def _package(tmp_path, source: str) -> str:
    """A package den_tf/ under tmp_path holding one module a.py of `source`."""
    pkg = tmp_path / "den_tf"
    pkg.mkdir()
    (pkg / "a.py").write_text(source)
    return str(pkg)


def test_the_citation_checker_sees_a_broken_citation(tmp_path):
    pkg = _package(
        tmp_path,
        '"""Expansion (algorithm.md#expansion), its decision\n(docs/algorithm.md#no-such-step).\n'
        'A list: algorithm.md#task-1, #later-tasks and #missing-too."""\n'
        "x = 1  # faithfulness.md#q7, faithfulness.md#q99\n")
    pages = {PAGE: {"expansion", "task-1", "later-tasks"}, "faithfulness.md": {"q7"}}
    assert broken_citations(pkg, pages) == [
        "den_tf/a.py:2: algorithm.md#no-such-step",
        "den_tf/a.py:3: algorithm.md#missing-too",
        "den_tf/a.py:4: faithfulness.md#q99",
    ]


def test_anchors_are_those_mkdocs_makes():
    text = ("# Title\n\n## Step 6: expansion {#expansion}\n\n## Q14: the order of the "
            "proximal steps\n\n```\n## not a heading\n```\n\n## `PhaseSpec` and more\n\n"
            "## Title\n\n| Q6 | <a id=\"q6\"></a>text |\n")
    assert anchors(text) == {"title", "expansion", "q14-the-order-of-the-proximal-steps",
                             "phasespec-and-more", "title_1", "q6"}


# ----------------------------------------------------------------------------- names
def _module_file(root: str, parts) -> str:
    """The file of module den_tf.<parts>, or None."""
    base = os.path.join(root, *parts)
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _top_level(tree: ast.Module) -> dict:
    """name -> node of a module's functions, classes and assigned names."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out[n.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
    return out


def _lazy_exports(tree: ast.Module) -> dict:
    """A package's `exports(__name__, {"Name": ".module", ...})`: name -> module."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "exports"
                and len(node.args) == 2 and isinstance(node.args[1], ast.Dict)):
            return {k.value: v.value for k, v in zip(node.args[1].keys, node.args[1].values)}
    return {}


def _members(cls: ast.ClassDef) -> set:
    out = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def resolve(name: str, root: str = PKG) -> str:
    """None when the dotted den_tf name exists under `root` (the den_tf folder), else
    what is missing."""
    parts = name.split(".")[1:]
    for i in range(len(parts), -1, -1):
        path = _module_file(root, parts[:i])
        if path:
            break
    rest = parts[i:]
    if not rest:
        return None
    module = "den_tf" + "".join("." + p for p in parts[:i])
    tree = ast.parse(_read(path))
    top = _top_level(tree)
    if rest[0] not in top:
        lazy = _lazy_exports(tree).get(rest[0])
        if lazy is None:
            return f"{module} defines no {rest[0]}"
        return resolve(f"{module}{lazy}.{'.'.join(rest)}", root)
    node = top[rest[0]]
    if len(rest) == 1:
        return None
    if len(rest) > 2 or not isinstance(node, ast.ClassDef):
        return f"{module}.{rest[0]} has no member {'.'.join(rest[1:])}"
    if rest[1] not in _members(node):
        return f"{module}.{rest[0]} defines no {rest[1]}"
    return None


def missing_names(markdown: str, root: str = PKG) -> list:
    """The den_tf modules, paths and names a page names that do not exist."""
    bad = []
    for name in sorted(set(DOTTED.findall(markdown))):
        why = resolve(name, root)
        if why:
            bad.append(f"{name}: {why}")
    for path in sorted(set(PATH.findall(markdown))):
        if not os.path.isfile(os.path.join(os.path.dirname(root), path)):
            bad.append(f"{path}: no such file")
    return bad


def test_the_page_names_only_what_exists():
    text = _read(os.path.join(DOCS, PAGE))
    names = set(DOTTED.findall(text))
    assert len(names) > 60, f"the page names only {len(names)} den_tf names"
    bad = missing_names(text)
    assert not bad, f"docs/{PAGE} names what den_tf does not have:\n" + "\n".join(bad)


def test_the_name_checker_sees_what_is_missing():
    text = ("`den_tf.den.expansion.prune` and `den_tf.den.expansion.no_such_step`; "
            "`den_tf.learner.frame.Learner.finish_task`, `den_tf.learner.frame.Learner.nope`; "
            "`den_tf.den.DENTrainer` (lazily exported), `den_tf.den.NoSuchExport`; "
            "`den_tf.engine.runner.VALIDATE_EVERY`, `den_tf.config.config.Config.validate`; "
            "the module `den_tf.no_such_module`; `den_tf/den/split.py`, `den_tf/den/nope.py`; "
            "`den_tf.den.expansion.prune.deeper`.")
    assert missing_names(text) == [
        "den_tf.den.NoSuchExport: den_tf.den defines no NoSuchExport",
        "den_tf.den.expansion.no_such_step: den_tf.den.expansion defines no no_such_step",
        "den_tf.den.expansion.prune.deeper: den_tf.den.expansion.prune has no member deeper",
        "den_tf.learner.frame.Learner.nope: den_tf.learner.frame.Learner defines no nope",
        "den_tf.no_such_module: den_tf defines no no_such_module",
        "den_tf/den/nope.py: no such file",
    ]


# ----------------------------------------------------------------------------- the figure
def _state(pruned_unit: int = 4, kept=(2, 1)):
    """A checkpoint state of 2 tasks on hidden layers of 4 and 3 units, ex_k 2: task 2
    selects units 0, 2, 3 of layer 1 and every unit of layer 2; layer 2 prunes one new
    unit; layer 1 splits unit 1."""
    rec1 = {"task": 1, "expanded": False, "selection": [], "pruned": [[], []],
            "split_units": [[], []], "kept": [0, 0], "stamp": [9, 4, 3, 10]}
    rec2 = {"task": 2, "expanded": True, "selection": [list(range(9)), [0, 2, 3], [0, 1, 2]],
            "pruned": [[], [pruned_unit]], "split_units": [[1], []], "kept": list(kept),
            "stamp": [9, 7, 4, 10]}
    return {"config": {"ex_k": 2}, "records": [rec1, rec2]}


def test_the_figure_lays_out_the_units_of_each_task():
    from den_tf.experiments import units_figure
    one, two = units_figure.unit_rows(_state(), 1)
    assert one["cells"] == ["task1"] * 4 and one["stamp"] == 4
    assert two["cells"] == ["selected", "unselected", "selected", "selected", "new", "new",
                            "copy"]
    assert (two["split"], two["stamp"], two["selected"]) == ([1], 7, 3)
    _, two = units_figure.unit_rows(_state(), 2)
    assert two["cells"] == ["selected"] * 3 + ["new", "pruned"]
    assert "1 pruned" in units_figure.row_text(two)
    with pytest.raises(ValueError, match="not one of the new units"):
        units_figure.unit_rows(_state(pruned_unit=1), 2)
    with pytest.raises(ValueError, match="timestamp"):
        units_figure.unit_rows(_state(kept=(2, 2)), 2)


# ----------------------------------------------------------------------------- old citations
# The forms in which den_tf cited the old specification, kept outside the repository
# ("spec step 6", "spec Q7", 'spec "End of every task"', "(spec)", "the spec says",
# "spec: the print formats"): every citation is now of a page above. ("A layer spec",
# the --arch grammar's word, is not one.)
OLD_CITATION = re.compile(r"(?i)\bspec(?:'s)?\s+steps?\s+\d|\bspec\s+Q\d|\bspec:?\s+[\"']"
                          r"|\(spec\)|\bthe\s+spec\b|\bspec:\s")


def old_citations(root: str) -> list:
    """file:line of every citation of the old specification in a comment or string."""
    out = []
    for path in python_files(root):
        for line, text in comments_and_strings(path):
            for m in OLD_CITATION.finditer(text):
                at = line + text[:m.start()].count("\n")
                out.append(f"{os.path.relpath(path, os.path.dirname(root))}:{at}: "
                           f"{text[max(0, m.start() - 20):m.end() + 30]!r}")
    return out


def test_no_citation_of_the_old_specification_is_left():
    left = old_citations(PKG)
    assert not left, ("cite the steps of docs/algorithm.md or the Q rows of "
                      "docs/faithfulness.md instead of the old specification:\n"
                      + "\n".join(left))


def test_the_old_citation_checker_sees_each_form(tmp_path):
    pkg = _package(
        tmp_path,
        '"""Expansion (spec step 6), `run_phase(spec, hyper)`, a layer spec (conv8k3)."""\n'
        "def f(spec):  # Spec Q14: the order\n"
        '    return f"{spec.name}", spec.task  # algorithm.md#expansion, as the spec says\n'
        "X = 1  # the shape lines (spec \"End of every task\")\n")
    assert [x.split(": ")[0] for x in old_citations(pkg)] == [
        "den_tf/a.py:1", "den_tf/a.py:2", "den_tf/a.py:3", "den_tf/a.py:4"]
