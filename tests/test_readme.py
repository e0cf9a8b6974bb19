"""The README's sample outputs are the CLI's current outputs: every ``$ backpressure-playground``
line in a README code block is run, and the lines under it must be what it prints (up to a line
``...``, which means "and more"). Samples of commands whose output is not shown (it is a long
JSON line, or a program written to a file) only have to succeed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from playground.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def samples() -> list[tuple[str, list[str]]]:
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), re.S):
        lines = block.rstrip("\n").split("\n")
        for index, line in enumerate(lines):
            if line.startswith("$ backpressure-playground "):
                output = []
                for following in lines[index + 1:]:
                    if following.startswith("$ "):
                        break
                    output.append(following)
                found.append((line[2:], output))
    return found


SAMPLES = samples()


def test_the_readme_has_samples_to_check():
    assert len(SAMPLES) >= 8


@pytest.mark.parametrize("command, shown", SAMPLES, ids=[c[:70] for c, _ in SAMPLES])
def test_a_readme_sample_is_what_the_cli_prints(capsys, command, shown):
    words = shlex.split(command.split(" > ")[0].split(" | ")[0])[1:]
    status = main(words)
    out, err = capsys.readouterr()
    printed = (out + err).rstrip("\n").split("\n")
    if not shown or ">" in command:
        assert status == 0, err
        return
    if "..." in shown:
        shown = shown[:shown.index("...")]
        printed = printed[:len(shown)]
    if err:  # an error sample: the sentence on stderr, status 2
        assert status == 2
    else:
        assert status == 0, err
    assert printed == shown
