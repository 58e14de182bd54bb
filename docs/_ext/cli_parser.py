"""The CLI's argparse parser for sphinx-argparse (``:module: cli_parser :func: parser``).

``fastkaiming.__main__.main`` builds its parser and parses in one function; this runs it up to
the parse and keeps the parser, so the docs show exactly the options the command has. Its texts
are plain text: sphinx-argparse reads them as reStructuredText, so they are escaped as docstrings
are (``xavier_uniform_`` is not a link).
"""
from __future__ import annotations

import argparse

from plain_docstrings import escape_lines

from fastkaiming import __main__ as cli


class _Built(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    found: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.parse_args

    def grab(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        found.append(self)
        raise _Built

    argparse.ArgumentParser.parse_args = grab  # type: ignore[method-assign,assignment]
    try:
        cli.main([])
    except _Built:
        pass
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    if not found:
        raise RuntimeError("fastkaiming.__main__.main() built no argparse parser")
    _plain(found[0])
    return found[0]


def _plain(parser: argparse.ArgumentParser) -> None:
    """Escape the description and every help text of `parser` and its subcommands."""
    parser.description = _escaped(parser.description)
    for action in parser._actions:
        action.help = _escaped(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _escaped(choice.help)
            for sub in action.choices.values():
                _plain(sub)


def _escaped(text: str | None) -> str | None:
    if not text or text is argparse.SUPPRESS:
        return text
    lines = text.split("\n")
    escape_lines(lines)
    return "\n".join(lines)
