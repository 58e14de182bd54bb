"""The CLI's argparse parser for sphinx-argparse (``:module: cli_parser :func: parser``).

``fastkaiming.__main__.build_parser`` is the parser ``main()`` parses with, so the docs show
exactly the options the command has. Its texts are plain text: sphinx-argparse reads them as
reStructuredText, so they are escaped as docstrings are (``xavier_uniform_`` is not a link).
"""
from __future__ import annotations

import argparse

from plain_docstrings import escape_lines

from fastkaiming import __main__ as cli


def parser() -> argparse.ArgumentParser:
    built = cli.build_parser()
    _plain(built)
    return built


def _plain(parser: argparse.ArgumentParser) -> None:
    """Escape the description and every help text of `parser` and its subcommands."""
    parser.description = _escaped(parser.description)
    parser.epilog = _escaped(parser.epilog)
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
