"""The docs held to the code and to their own site (issue 19, item 5).

* The Q table of docs/faithfulness.md ("Faithful by default") names as switchable
  exactly the switches `den_tf.config.PAPER_SWITCHES` has, and the other questions as
  handled or unspecified.
* Every page under docs/ is in the `nav` of mkdocs.yml and every nav entry is a page
  (`mkdocs build --strict` in CI refuses both as well, but mkdocs need not be installed
  where the tests run: mkdocs.yml is read with a regex here, not a YAML parser).
* README stays short, keeps the test command CI runs, and its links to the docs resolve.
* `../shared` (this repository's CI data) is named on the development page only.

None of these needs the network, mkdocs or TensorFlow.
"""

from __future__ import annotations

import os
import re

from den_tf.config import PAPER_SWITCHES
from tests.conftest import ROOT

DOCS = os.path.join(ROOT, "docs")
TEST_COMMAND = "python -m pytest -q -n auto --dist loadfile tests"
README_MAX_LINES = 160


def _read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def q_rows(text: str) -> dict:
    """{"Q1": third cell, ...} of the table under "## Faithful by default"."""
    start = text.index("\n## Faithful by default\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else None]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*(Q\d+)\s*\|(.*)\|\s*$", line)
        if m:
            cells = [c.strip() for c in m.group(2).split("|")]
            assert m.group(1) not in rows, f"{m.group(1)} twice in the table"
            rows[m.group(1)] = cells[-1]
    return rows


def switchable(rows: dict) -> set:
    """The rows whose `--paper=` cell starts with the switch itself (`Q4`: ...)."""
    out = set()
    for q, cell in rows.items():
        if cell.startswith(f"`{q}`"):
            out.add(q)
        else:
            assert cell.startswith("(handled") or cell.startswith("(unspecified"), \
                f"{q}: neither a switch nor handled/unspecified: {cell[:60]!r}"
    return out


def test_q_table_matches_the_paper_switches():
    rows = q_rows(_read("docs", "faithfulness.md"))
    assert set(rows) == {f"Q{i}" for i in range(1, 16)}
    on = switchable(rows)
    assert on == set(PAPER_SWITCHES), (
        f"switchable in the table: {sorted(on)}; den_tf.config.PAPER_SWITCHES: "
        f"{sorted(PAPER_SWITCHES)}")
    assert set(rows) - on == {"Q1", "Q3", "Q13", "Q14", "Q15"}


def nav_pages(text: str) -> list:
    """The .md files the `nav:` block of mkdocs.yml lists (`- Title: page.md` or
    `- page.md`), in order."""
    m = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)*)", text, re.M)
    assert m, "mkdocs.yml has no nav block"
    return re.findall(r"^\s*-\s*(?:[^:\n]*:\s*)?([\w./-]+\.md)\s*$", m.group(1), re.M)


def doc_pages() -> set:
    out = set()
    for root, _, files in os.walk(DOCS):
        for f in files:
            if f.endswith(".md"):
                out.add(os.path.relpath(os.path.join(root, f), DOCS).replace(os.sep, "/"))
    return out


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    nav = nav_pages(_read("mkdocs.yml"))
    assert len(nav) == len(set(nav)), f"a page twice in the nav: {nav}"
    pages = doc_pages()
    assert pages - set(nav) == set(), f"pages not in mkdocs.yml's nav: {sorted(pages - set(nav))}"
    assert set(nav) - pages == set(), f"nav entries without a page: {sorted(set(nav) - pages)}"


def test_nav_reader_sees_what_is_missing():
    """The regex reads nested sections, and a page left out is seen."""
    text = "site_name: x\nnav:\n  - Home: index.md\n  - API:\n      - Run: api/run.md\n\nplugins: []\n"
    assert nav_pages(text) == ["index.md", "api/run.md"]


def test_readme_is_short_and_keeps_the_test_command():
    text = _read("README.md")
    n = len(text.splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines (at most {README_MAX_LINES})"
    assert TEST_COMMAND in text
    assert "python -m venv .venv && . .venv/bin/activate" in text
    assert "pip install -r requirements.txt" in text


def test_readme_links_resolve():
    text = _read("README.md")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert links, "README links to no docs page"
    missing = [p for p in links if "://" not in p and not os.path.exists(os.path.join(ROOT, p))]
    assert not missing, f"README links to missing files: {missing}"


def test_shared_data_is_named_on_the_development_page_only():
    files = ["README.md"] + [os.path.join("docs", p) for p in sorted(doc_pages())]
    bad = [f for f in files if "../shared" in _read(f) and f != os.path.join("docs", "development.md")]
    assert not bad, f"../shared outside docs/development.md: {bad} (use --data_dir=PATH)"


def test_own_tasks_page_shows_the_example_as_it_is():
    """docs/own_tasks.md shows examples/own_tasks.py whole: its python block is the file."""
    page = _read("docs", "own_tasks.md")
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 1
    assert blocks[0] == _read("examples", "own_tasks.py")
