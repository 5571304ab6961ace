"""Every command the CLI offers is documented in the README (as sqlite-utils checks)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from studyapp.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "studyapp") -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
    return paths


@pytest.mark.parametrize("path", command_paths(main))
def test_command_is_in_the_readme(path):
    parent, _, name = path.rpartition(" ")
    # "studyapp exercise run" may be documented as "studyapp exercise list|run|runs ..."
    lines = [line for line in README.splitlines() if parent in line]
    assert path in README or any(
        name in re.split(r"[^\w-]+", line.split(parent, 1)[1]) for line in lines
    ), f"README lacks `{path}`"


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README
