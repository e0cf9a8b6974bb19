"""The program runs or says why on every Python the project supports (issue 21, item 7): the 3.11
variant runs on 3.11 and 3.13; the 3.13 variant runs on 3.13 and, on 3.11, exits 1 with one
sentence naming the variant to ask for, never a traceback; the CLI's default is the variant for
the Python it runs under."""

from __future__ import annotations

import subprocess
import sys

import pytest
from python313 import python313

from playground.model.scenario import Scenario
from playground.program.codegen import generate

LINKS = ["v=1&preset=handbook", "v=1&preset=webhook-ingestion&items=30"]


def _run(python: str, source: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "program.py"
    path.write_text(source)
    return subprocess.run([python, str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("link", LINKS)
def test_each_variant_runs_or_says_why_on_311_and_313(link, tmp_path):
    older = sys.executable  # the suite's own Python: on 3.11 or 3.12 it is the older one
    scenario = Scenario.from_link(link)
    for variant in ("3.11", "3.13"):
        source = generate(scenario, python=variant, ideal_clock=True)  # traces exact, to compare
        on_313 = _run(python313(), source, tmp_path)
        assert on_313.returncode == 0 and "Traceback" not in on_313.stderr, on_313.stderr[-500:]
        assert "shutdown" in on_313.stdout
        if sys.version_info >= (3, 13):
            continue
        on_older = _run(older, source, tmp_path)
        if variant == "3.11":
            assert on_older.returncode == 0, on_older.stderr[-500:]
            assert on_older.stdout == on_313.stdout
        else:
            assert on_older.returncode == 1 and on_older.stdout == ""
            assert on_older.stderr.strip() == (
                "This program needs Python 3.13 or newer; for 3.11 and 3.12 ask for the other variant: "
                f"backpressure-playground code --python 3.11 '{scenario.alone_link()}'.")


def test_the_printed_handbook_has_no_311_variant_and_says_so(tmp_path):
    source = generate(Scenario.from_preset("handbook-as-printed"), python="3.13")
    if sys.version_info < (3, 13):
        older = _run(sys.executable, source, tmp_path)
        assert older.returncode == 1 and "Traceback" not in older.stderr
        assert "it is the handbook's example as printed" in older.stderr


def test_the_cli_gives_the_variant_for_the_python_it_runs_under():
    out = subprocess.run([sys.executable, "-m", "playground", "code", "preset=handbook"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    expected = "3.13" if sys.version_info >= (3, 13) else "3.11"
    assert out == generate(Scenario.from_preset("handbook"), python=expected)
    printed = subprocess.run([sys.executable, "-m", "playground", "code", "preset=handbook-as-printed"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert printed == generate(Scenario.from_preset("handbook-as-printed"), python="3.13")
