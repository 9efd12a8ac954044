"""Every `sponsorwatch ...` line in README.md's code blocks is one the CLI accepts, checked
in-process by parsing it with the real command tree (nothing runs), and the two set-up
commands are written as users copy them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from cli.main import app

try:  # typer vendors click (0.2x); older typer uses click itself
    from typer._click.exceptions import BadParameter, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import BadParameter, UsageError  # type: ignore[assignment]

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_COMMAND = "bash scripts/install.sh && uv run sponsorwatch demo"
TEST_COMMAND = re.compile(r"bash scripts/install\.sh( --with-browser)? && uv run pytest")
#: A stand-in the reader replaces: EXTRACT_DIR, WORLD_DIR, PLAN.
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")
SHELL_SEPARATORS = {"&&", "||", ";", "|"}


@dataclass(frozen=True)
class ReadmeLine:
    number: int
    text: str

    def __str__(self) -> str:
        return f"README.md:{self.number}: {self.text}"


def code_block_lines(text: str) -> list[ReadmeLine]:
    """The lines of the fenced code blocks, a line continued with a backslash joined to the
    next, numbered by the line it starts on."""
    lines: list[ReadmeLine] = []
    fenced = False
    pending: ReadmeLine | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced, pending = not fenced, None
            continue
        if not fenced:
            continue
        if pending is not None:
            pending = ReadmeLine(pending.number, f"{pending.text} {line.strip()}")
        else:
            pending = ReadmeLine(number, line.strip())
        if pending.text.endswith("\\"):
            pending = ReadmeLine(pending.number, pending.text[:-1].rstrip())
        else:
            lines.append(pending)
            pending = None
    return lines


def sponsorwatch_args(line: str) -> list[list[str]]:
    """The arguments after `sponsorwatch` of each sponsorwatch command on a shell line:
    comments dropped, optional ``[...]`` parts included, ``a|b`` alternatives as ``a``."""
    commands: list[list[str]] = []
    current: list[str] = []
    for token in [*shlex.split(line, comments=True), ";"]:
        if token not in SHELL_SEPARATORS:
            current.append(token)
            continue
        words = current[2:] if current[:2] == ["uv", "run"] else current
        if words[:1] == ["sponsorwatch"]:
            commands.append([_optional_part(word) for word in words[1:] if word.strip("[]")])
        current = []
    return commands


def _optional_part(word: str) -> str:
    word = word.removeprefix("[").removesuffix("]")
    return word.split("|")[0] if "|" in word and not word.startswith("-") else word


def parse(args: list[str]) -> None:
    """Parse `sponsorwatch ARGS` down to the command it names, as the CLI would before
    running it; raises click's UsageError (unknown option or command, missing or extra
    argument, bad value) and runs nothing."""
    command = typer.main.get_command(app)
    ctx = command.make_context("sponsorwatch", list(args))
    while hasattr(command, "resolve_command"):
        # What a group leaves for its sub-command, as the group's own invoke reads it.
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            ctx.fail("Missing command.")
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)


README_LINES = code_block_lines(README.read_text(encoding="utf-8"))
COMMANDS = [(line, args) for line in README_LINES for args in sponsorwatch_args(line.text)]


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 10


def usage_error(args: list[str]) -> str | None:
    """What the CLI would say is wrong with `sponsorwatch ARGS`; None when nothing is. A bad
    value that is a placeholder (`--sponsors N`) is no error."""
    try:
        parse(args)
    except BadParameter as error:
        message = error.format_message()
        if any(PLACEHOLDER.fullmatch(arg) and arg in message for arg in args):
            return None
        return message
    except UsageError as error:
        return error.format_message()
    return None


@pytest.mark.parametrize(("line", "args"), COMMANDS, ids=[f"line{line.number}"
                                                          for line, _ in COMMANDS])
def test_readme_command_parses(line: ReadmeLine, args: list[str]) -> None:
    error = usage_error(args)
    assert error is None, f"{line}\n  {error}"


def test_the_set_up_commands_are_shown_verbatim() -> None:
    texts = [line.text for line in README_LINES]
    assert DEMO_COMMAND in texts
    assert any(TEST_COMMAND.fullmatch(text) for text in texts), texts


@pytest.mark.parametrize(("line", "expected"), [
    ("uv run sponsorwatch train --until 2024-06-30      # time folds",
     [["train", "--until", "2024-06-30"]]),
    ("uv run sponsorwatch ingest EXTRACT_DIR [--register register.json] [--json]",
     [["ingest", "EXTRACT_DIR", "--register", "register.json", "--json"]]),
    ("bash scripts/install.sh && uv run sponsorwatch demo", [["demo"]]),
    ("uv run sponsorwatch keys create --role case-system|analyst|admin",
     [["keys", "create", "--role", "case-system"]]),
    ("uv run mlflow run . -e main --env-manager local", []),
])
def test_shell_lines_are_read_as_the_reader_means_them(line: str,
                                                      expected: list[list[str]]) -> None:
    assert sponsorwatch_args(line) == expected


def test_a_wrong_line_is_caught() -> None:
    for args in (["evaluate-plan", "PLAN", "INSPECTIONS"], ["score", "--out", "x.csv"],
                 ["train", "--until", "2024-06-30", "--no-such-option"], ["nope"],
                 ["keys"], ["keys", "create", "--role", "root"], ["train", "--folds", "0"]):
        assert usage_error(args) is not None, args
    assert usage_error(["simulate", "--out", "W", "--sponsors", "N"]) is None
    joined = code_block_lines("```bash\nuv run sponsorwatch simulate --out W \\\n"
                              "    [--report]\n```\n")
    assert joined == [ReadmeLine(2, "uv run sponsorwatch simulate --out W [--report]")]
