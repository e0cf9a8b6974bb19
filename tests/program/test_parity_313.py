"""The program's Python 3.13 variant (queue.shutdown(), the handbook's idiom) prints the engine's
trace under a real Python 3.13, on the ideal clock, for every parity scenario; and the handbook's
example as printed (join=at-start) fails there exactly as the engine says it does."""

from __future__ import annotations

import subprocess

import pytest
from python313 import python313
from parity_cases import SCENARIOS, engine_trace

from playground.model.scenario import Scenario
from playground.program.codegen import generate

AS_PRINTED = [
    "preset=handbook-as-printed",
    "preset=handbook-as-printed&producers=3",
    "preset=handbook-as-printed&queue=5&memory=5&max_age=1&timeout=0.1&retries=2",
    "preset=handbook-as-printed&policy=timeout&queue=1&workers=1&limit=0&items=100",
    # A put that shutdown() makes fail frees its item: the program once kept it counted as held
    # and crashed out of memory ("2 items lost") where the engine did not (issue 21, item 8).
    "preset=handbook-as-printed&producers=2&memory=1",
]


def run_313(tmp_path, source: str, until: float | None) -> subprocess.CompletedProcess:
    program = tmp_path / "program.py"
    program.write_text(source)
    argv = [python313(), "-I", str(program)] + ([] if until is None else [str(until)])
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.parametrize("link, until", [(link, until) for _, link, until in SCENARIOS],
                         ids=[name for name, _, _ in SCENARIOS])
def test_the_313_program_prints_the_engines_trace(tmp_path, link, until):
    scenario = Scenario.from_link(link)
    source = generate(scenario, python="3.13", ideal_clock=True)
    assert "queue.shutdown()" in source and "await queue.put(None)" not in source
    result = run_313(tmp_path, source, until)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == engine_trace(scenario, until)


@pytest.mark.parametrize("link", AS_PRINTED)
def test_the_handbook_as_printed_fails_as_the_engine_says(tmp_path, link):
    scenario = Scenario.from_link(link)
    expected = engine_trace(scenario, None)
    assert expected[-1].startswith("0.000 main() raised ExceptionGroup: unhandled errors in a TaskGroup")
    assert not any(" handled " in line for line in expected)
    result = run_313(tmp_path, generate(scenario, ideal_clock=True), None)
    assert result.returncode == 1 and "QueueShutDown" in result.stderr
    assert result.stdout.splitlines() == expected


def test_the_handbook_as_printed_on_the_real_clock(tmp_path):
    """As a reader runs it: plain python3.13, real time. The lines are the engine's, and the
    ExceptionGroup is asyncio.run's traceback."""
    scenario = Scenario.from_link("preset=handbook-as-printed")
    result = run_313(tmp_path, generate(scenario), None)
    printed = [line.split(" ", 1)[1] for line in result.stdout.splitlines()]
    expected = [line.split(" ", 1)[1] for line in engine_trace(scenario, None)]
    assert printed == ["produce 0 qsize before: 0", "worker-0 shutdown", "worker-1 shutdown",
                       "worker-2 shutdown"] == expected[:-1]
    assert result.returncode == 1
    assert "ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-2].strip(" |").endswith("QueueShutDown")
