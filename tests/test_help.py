"""Every `kiosk ... --help` at the standard of `kiosk provision --help`: each command and
subcommand has a description, every option and argument says what it is for, and no option is
listed twice (argparse's options section, then a hand-written copy in the epilog)."""

from __future__ import annotations

import argparse
import re

from kiosk.app.cli import build_parser


def all_parsers() -> tuple[list[tuple[str, argparse.ArgumentParser]], dict[str, str | None]]:
    """Every (sub)command's parser by its command line, and the one-line help its parent lists."""
    parsers, summaries = [], {}
    todo = [("kiosk", build_parser())]
    while todo:
        path, parser = todo.pop(0)
        parsers.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    summaries[f"{path} {name}"] = helps.get(name)
                    todo.append((f"{path} {name}", sub))
    return parsers, summaries


def test_the_walk_sees_every_command_and_hq_subcommand():
    names = {path for path, _ in all_parsers()[0]}
    for expected in ("kiosk demo", "kiosk sim-card", "kiosk hq report", "kiosk hq serve", "kiosk hq init",
                     "kiosk hq register-member", "kiosk hq block-card", "kiosk hq publish-rules",
                     "kiosk hq devices", "kiosk provision", "kiosk doctor", "kiosk run"):
        assert expected in names


def test_every_command_has_a_summary_and_a_description():
    parsers, summaries = all_parsers()
    missing = [f"`{path}` (no one-line help in its parent's list)" for path, summary in summaries.items()
               if not summary]
    missing += [f"`{path} --help` (no description)" for path, parser in parsers if not parser.description]
    assert missing == []


def test_every_option_and_argument_is_explained():
    unexplained = []
    for path, parser in all_parsers()[0]:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                unexplained.append(f"`{path} --help`: {'/'.join(action.option_strings) or action.dest}")
    assert unexplained == []


def test_no_option_is_listed_twice():
    twice = []
    for path, parser in all_parsers()[0]:
        text = parser.format_help()
        for action in parser._actions:
            for option in action.option_strings:
                if not option.startswith("--"):
                    continue
                # an option's entry is a line that starts (after indentation, maybe "-x, ") with it
                entries = re.findall(rf"^  (?:-\w, )?{re.escape(option)}(?=[ ,=]|$)", text, re.M)
                if len(entries) != 1:
                    twice.append(f"`{path} --help` lists {option} {len(entries)} times")
    assert twice == []
