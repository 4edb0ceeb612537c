"""The docs' flag table (docs/usage.md#flags), made from the registered settings: one row
per flag, in sections, with its default, what it applies to and its help. A test holds
docs/usage.md to `markdown()`; after adding a setting, rewrite the page's table with

    python -c "from den_tf.config import table; table.write('docs/usage.md')"

Imports: den_tf.errors.
"""

from __future__ import annotations

from den_tf.config.registry import Setting, settings

BEGIN = "<!-- flag table: made by den_tf.config.table; do not edit by hand -->"
END = "<!-- end of the flag table -->"

SECTIONS = (
    ("original", "The original's flags (same names and defaults)"),
    ("data", "Data and task streams"),
    ("network", "The network"),
    ("method", "Methods and their own settings"),
    ("run", "The run"),
    ("outputs", "Outputs and modes"),
)


def _default(s: Setting) -> str:
    if s.default_text is not None:
        return s.default_text
    d = s.default
    if isinstance(d, bool):
        return "on" if d else "off"
    if isinstance(d, (tuple, list)):
        return ",".join(map(str, d)) or "(none)"
    return "(none)" if d is None or d == "" else str(d)


def _applies(s: Setting) -> str:
    parts = []
    if s.methods is not None:
        parts.append("--method=" + "/".join(s.methods))
    if s.streams is not None:
        parts.append("--tasks=" + "/".join(s.streams))
    if s.command:
        parts.append("command line")
    return ", ".join(parts) or "every run"


def _flag(s: Setting) -> str:
    text = f"`--{s.flag_name}`"
    if s.kind == "boolean":
        text += f" / `--no{s.flag_name}`"
    return text


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown() -> str:
    """The table, between its BEGIN and END markers."""
    out = [BEGIN]
    for group, title in SECTIONS:
        rows = [s for s in settings() if s.group == group]
        if not rows:
            continue
        out += ["", f"**{title}**", "", "| flag | default | applies to | meaning |",
                "| --- | --- | --- | --- |"]
        for s in rows:
            out.append(f"| {_flag(s)} | {_cell(_default(s))} | {_applies(s)} | "
                       f"{_cell(s.help)} |")
    missing = [s.name for s in settings() if s.group not in dict(SECTIONS)]
    if missing:
        raise ValueError(f"settings of no section of the table: {missing}")
    return "\n".join(out + ["", END])


def replaced(page: str) -> str:
    """`page` with its table (between the markers) made anew."""
    a, b = page.index(BEGIN), page.index(END) + len(END)
    return page[:a] + markdown() + page[b:]


def write(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        page = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(replaced(page))
