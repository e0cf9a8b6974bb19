"""``code LINK --ideal-clock``: the program plus the ideal-clock runner (standard library only)
prints the engine's trace line for line, run as a user runs it: ``python program.py [SECONDS]``
in a fresh interpreter, importing nothing of the playground."""

from __future__ import annotations

import subprocess
import sys

import pytest
from python313 import python313

from playground.model.scenario import Scenario
from playground.program.codegen import generate
from playground.sim import trace
from playground.sim.engine import Engine

CASES = [
    ("preset=handbook", None),
    ("preset=webhook-ingestion", 10),
    ("preset=unbounded-oom", 30),
    ("retries=3&jitter=decorrelated&timeout=0.08&rate_limit=30&rate=50&workers=10&limit=0&capacity=4"
     "&contention=0.2&abandon=continue", 6),
    ("policy=reject&queue=5&rate=80&client_retries=2&memory=60&restart=0.5", 6),
    ("arrivals=steady&rate=100&service_dist=constant&service_time=0.05&items=100&queue=1&workers=3"
     "&limit=2&policy=reject", None),
    # Past the handbook (issue 24): an AIMD limiter, CoDel under adaptive LIFO.
    ("workers=32&capacity=8&contention=0.1&rate=65&timeout=0.3&limit=4&limiter=aimd&retries=1", 6),
    ("preset=standing-queue&codel=on&discipline=adaptive-lifo&codel_target=0.05&memory=80", 8),
    # Latency-based limits: the round trips the limiters read are the real loop's clock.
    ("workers=32&capacity=8&contention=0.1&rate=65&limit=4&limiter=vegas&timeout=0.4", 6),
    ("workers=32&capacity=8&contention=0.1&rate=65&limit=4&limiter=gradient2&service_dist=lognormal", 6),
]


@pytest.mark.parametrize("python", ["3.13", "3.11"])
@pytest.mark.parametrize("link, until", CASES, ids=[link[:50] for link, _ in CASES])
def test_the_ideal_clock_program_prints_the_engines_trace(tmp_path, link, until, python):
    scenario = Scenario.from_link(link)
    program = tmp_path / "program.py"
    program.write_text(generate(scenario, python=python, ideal_clock=True))
    interpreter = python313() if python == "3.13" else sys.executable  # 3.11 is the oldest we support
    argv = [interpreter, "-I", str(program)] + ([] if until is None else [str(until)])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    engine = Engine(scenario, event_cap=None)
    engine.run(until)
    expected = [trace.line(event) for event in engine.read_events()]
    printed = result.stdout.splitlines()
    assert len(printed) > 20 and printed == expected


def test_the_default_program_is_unchanged_and_runs_on_the_real_clock():
    source = generate(Scenario.from_link("preset=handbook"))
    assert source.endswith('if __name__ == "__main__":\n    asyncio.run(main())\n')
    assert "VirtualClockLoop" not in source


def test_an_endless_ideal_clock_program_needs_its_stop_time(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(generate(Scenario.from_link("rate=20"), python="3.11", ideal_clock=True))
    result = subprocess.run([sys.executable, "-I", str(program)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "This run is endless" in result.stderr and not result.stdout
