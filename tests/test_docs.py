"""The README documents every setting, command and make target, and its quick start runs."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main

from surveys.cli import app
from surveys.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> list[str]:
    # Typer's group is not a click.Group subclass in every release; ask for its commands.
    if getattr(command, "commands", None):
        paths = []
        for name, sub in command.commands.items():
            paths += command_paths(sub, (*prefix, name))
        return paths
    return [" ".join(prefix)]


SETTINGS = [field.validation_alias for field in Settings.model_fields.values()]
MAKE_TARGETS = re.search(r"^\.PHONY:(.*)$", MAKEFILE, flags=re.MULTILINE)[1].split()
COMMANDS = command_paths(typer.main.get_command(app))


def test_the_command_listing_finds_every_group() -> None:
    assert {"db upgrade", "demo", "backup", "restore"} <= set(COMMANDS)


@pytest.mark.parametrize("variable", SETTINGS)
def test_every_setting_is_documented(variable: str) -> None:
    assert re.search(rf"`{variable}`", README), f"{variable} is missing from the README"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"attune {command}" in README, f"`attune {command}` is missing from the README"


def test_the_makefile_listing_finds_the_targets() -> None:
    assert {"run", "test", "test-fast", "lint", "bench"} <= set(MAKE_TARGETS)
    for target in MAKE_TARGETS:
        assert re.search(rf"^{re.escape(target)}:", MAKEFILE, flags=re.MULTILINE), target


@pytest.mark.parametrize("target", MAKE_TARGETS)
def test_every_makefile_target_is_documented(target: str) -> None:
    assert re.search(rf"`make {re.escape(target)}(?![\w-])", README), (
        f"`make {target}` is missing from the README"
    )


def test_readme_opens_with_the_two_commands() -> None:
    first_commands = re.findall(r"^make \w+", README, flags=re.MULTILINE)[:2]
    assert first_commands == ["make run", "make test"]
    for target in ("run", "test", "lint", "bench"):
        assert re.search(rf"^{target}:", MAKEFILE, flags=re.MULTILINE)


def test_using_attune_comes_straight_after_the_two_commands() -> None:
    headings = re.findall(r"^#{1,2} .+$", README, flags=re.MULTILINE)
    two_commands = headings.index("## Two commands")
    assert headings[two_commands + 1] == "# Using Attune"
    # What a person does with Attune before how it is configured and built.
    for internals in ("## Configuration", "## Architecture", "## Benchmarks"):
        assert headings.index(internals) > headings.index("# Using Attune")
