"""`sponsorwatch --help` and the help of every command and command group read well: no type
noise, no markup left over, dates as dates, whole sentences, every option described with its
default, and one name (`--out`) for every output file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.rich_utils
from typer.testing import CliRunner

from cli.main import app

WIDTH = 100
ROOT = typer.main.get_command(app)


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = dict(_walk(ROOT))


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    """Every command's help as a user reads it in a terminal WIDTH columns wide."""
    with pytest.MonkeyPatch.context() as patch:
        # Read from TERMINAL_WIDTH and FORCE_COLOR when typer.rich_utils was imported.
        patch.setattr(typer.rich_utils, "MAX_WIDTH", WIDTH)
        patch.setattr(typer.rich_utils, "FORCE_TERMINAL", False)
        rendered = {}
        for path in COMMANDS:
            result = CliRunner().invoke(app, [*path, "--help"],
                                        env={"COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH)})
            assert result.exit_code == 0, (path, result.output)
            rendered[path] = result.output
    return rendered


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("sponsorwatch", *path))


def _visible_options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and not p.hidden
            and p.name != "help"]


def _shows_default(param: Any) -> bool:
    """Whether typer adds "[default: ...]" to the help of this parameter by itself."""
    if not param.show_default or param.default is None or param.default == "":
        return False
    return not (getattr(param, "is_flag", False) and not param.secondary_opts)


def test_the_tree_has_every_command_and_group() -> None:
    names = {_name(path) for path in COMMANDS}
    for expected in ("sponsorwatch", "sponsorwatch simulate", "sponsorwatch keys create",
                     "sponsorwatch audit export", "sponsorwatch reviews export"):
        assert expected in names
    assert len(names) > 20


@pytest.mark.parametrize("path", list(COMMANDS), ids=_name)
def test_help_has_no_noise(helps: dict[tuple[str, ...], str], path: tuple[str, ...]) -> None:
    text = helps[path]
    assert "Usage: sponsorwatch" in text
    assert "<bool>" not in text, "flags take no value"
    assert "``" not in text, "reStructuredText markup"
    assert "00:00:00" not in text, "a date shown as a date and time"
    assert "\x1b[" not in text


@pytest.mark.parametrize("path", list(COMMANDS), ids=_name)
def test_every_option_is_described_with_its_default(
        helps: dict[tuple[str, ...], str], path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    described = 0
    for param in _visible_options(command):
        assert (param.help or "").strip(), f"{_name(path)} {param.opts[0]} has no help"
        written = "[default:" in (param.help or "")
        assert not (written and _shows_default(param)), f"{param.opts[0]}: default shown twice"
        if not param.required and not (param.is_flag and not param.secondary_opts):
            assert written or _shows_default(param), f"{_name(path)} {param.opts[0]}: default?"
        described += written or _shows_default(param)
    described += sum("[default:" in (p.help or "") or _shows_default(p)
                     for p in command.params if p.param_type_name == "argument")
    # A "[default: ...]" typed in a help text must survive the markup of the help renderer.
    assert helps[path].count("[default:") == described


def _help_texts(command: Any) -> Iterator[str]:
    yield command.help or ""
    for param in command.params:
        yield getattr(param, "help", None) or ""


@pytest.mark.parametrize("path", list(COMMANDS), ids=_name)
def test_help_texts_survive_markdown(path: tuple[str, ...]) -> None:
    """Help is rendered as Markdown: `<home>` outside a code span would vanish."""
    for text in _help_texts(COMMANDS[path]):
        assert "``" not in text
        plain = re.sub(r"`[^`]*`", "", text)
        assert not re.search(r"<[A-Za-z/]", plain), f"put {text!r}'s <...> in `code`"


def _output_option(param: Any) -> bool:
    named = any(re.fullmatch(r"--(out|output|dest|destination|target)([-_](dir|file|path))?", o)
                for o in param.opts)
    writes = not param.is_flag and re.search(r"\bwrit(e|es|ten)\b", param.help or "", re.I)
    return named or bool(writes)


@pytest.mark.parametrize("path", list(COMMANDS), ids=_name)
def test_output_files_are_named_out(path: tuple[str, ...]) -> None:
    for param in _visible_options(COMMANDS[path]):
        if _output_option(param):
            long_names = [o for o in param.opts if o.startswith("--")]
            assert long_names == ["--out"], f"{_name(path)}: {param.opts} should be --out"


@pytest.mark.parametrize("group", ["audit", "reviews"])
def test_the_old_output_spelling_still_works_hidden(helps: dict[tuple[str, ...], str],
                                                    group: str) -> None:
    assert "--output" not in helps[(group, "export")]
    parent = ROOT.make_context("sponsorwatch", [group, "export"], resilient_parsing=True)
    command = COMMANDS[(group, "export")]
    for spelling in ("--output", "--out", "-o", "--output=file.csv"):
        args = [spelling] if "=" in spelling else [spelling, "file.csv"]
        ctx = command.make_context("export", args, parent=parent)
        assert Path(ctx.params["output"]) == Path("file.csv"), spelling


def _early_breaks(lines: list[str], start: int, end: int) -> list[str]:
    """Lines that end although the next line's first word would have fitted: hard line
    breaks in a help text. ``start``/``end``: the columns the text may fill; a line whose
    text starts at ``start`` continues the one above it."""
    found = []
    for line, following in zip(lines, lines[1:], strict=False):
        text, more = line[start:end].rstrip(), following[start:end]
        if text.strip() and more.strip() and not following[:start].strip(" │") \
                and len(text) + 1 + len(more.split()[0]) <= end - start:
            found.append(f"{text.strip()!r} / {more.split()[0]!r}")
    return found


@pytest.mark.parametrize("path", list(COMMANDS), ids=_name)
def test_descriptions_wrap_as_whole_sentences(helps: dict[tuple[str, ...], str],
                                              path: tuple[str, ...]) -> None:
    lines = helps[path].splitlines()
    first_panel = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    prose = [line for line in lines[:first_panel] if "Usage:" not in line]
    assert _early_breaks(prose, 1, WIDTH - 1) == []
    if "╭─ Commands" in helps[path]:
        panel = lines[next(i for i, line in enumerate(lines) if line.startswith("╭─ Commands")):]
        panel = panel[1:next(i for i, line in enumerate(panel) if line.startswith("╰"))]
        names = [p[-1] for p in COMMANDS if len(p) == len(path) + 1 and p[:-1] == path]
        column = max(len(n) for n in names) + 4  # "│ " + name + padding of two
        assert _early_breaks(panel, column, WIDTH - 2) == []
