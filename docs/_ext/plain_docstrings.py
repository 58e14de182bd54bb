"""Docstrings here are numpydoc written as plain text, with code in double backticks; in their
prose, three reStructuredText markers would change the meaning of the library's own names:
a trailing underscore (``kaiming_normal_`` is a hyperlink reference in rst), ``*`` (``*kernel``,
``**kwargs``: emphasis) and ``|x|`` (a substitution). This extension escapes them outside
backticks, doctest lines and literal blocks, before numpydoc reads the docstring, so they are
shown as written.
"""
from __future__ import annotations

import re
from typing import Any

_SPANS = re.compile(r"(``.+?``|`[^`]+`)")  # inline literals, roles and default-role text
_REFERENCE = re.compile(r"(?<![\\\w])([A-Za-z][\w.]*?)_(?!\w)")
_STAR = re.compile(r"(?<!\\)\*")
_BAR = re.compile(r"(?<!\\)\|(?=[^\s|][^|]*\|)|(?<=\S)(?<!\\)\|")


def _escape(text: str) -> str:
    parts = _SPANS.split(text)
    for i in range(0, len(parts), 2):  # the parts outside backticks
        part = _REFERENCE.sub(r"\1\\_", parts[i])
        part = _STAR.sub(r"\\*", part)
        parts[i] = _BAR.sub(r"\\|", part)
    return "".join(parts)


def escape_lines(lines: list[str]) -> None:
    """Escape `lines` (a docstring) in place, leaving doctest examples and literal blocks."""
    example = False
    literal_indent: int | None = None
    section = ""
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if i + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]) and stripped:
            section = stripped.strip()
            continue
        if section == "See Also":  # numpydoc reads these names itself
            continue
        if not stripped:
            example = False
            continue
        if literal_indent is not None:
            if indent > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith(">>>") or example:
            example = True
            continue
        lines[i] = _escape(line)
        if stripped.endswith("::"):
            literal_indent = indent


def _process(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    escape_lines(lines)


def setup(app: Any) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _process, priority=400)  # before numpydoc (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
