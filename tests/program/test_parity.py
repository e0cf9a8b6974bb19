"""Fidelity: the engine's trace equals the generated asyncio program's, line by line.

Each scenario's program (``codegen.generate``) runs on real asyncio under a
virtual clock (``virtual_clock.run_program``); the engine runs the same
scenario. Both print ``<time> <event>`` lines; they must be identical, times
included. Scenarios are chosen to hit the places where an approximate model
would drift: same-instant ties (constant service, steady arrivals), timeouts
that expire as work completes, woken putters racing new puts, crashes in the
middle of a burst.
"""

from __future__ import annotations

import pytest
from handbook_trace import HANDBOOK_TRACE
from parity_cases import SCENARIOS, engine_trace
from virtual_clock import run_program

from playground.model.scenario import Scenario
from playground.program.codegen import generate
from playground.sim import trace
from playground.sim.engine import Engine

@pytest.mark.parametrize("link, until", [(link, until) for _, link, until in SCENARIOS],
                         ids=[name for name, _, _ in SCENARIOS])
def test_engine_trace_equals_generated_program(link, until):
    scenario = Scenario.from_link(link)
    program = run_program(generate(scenario, python="3.11"), until=until)  # this interpreter: 3.11+
    engine = engine_trace(scenario, until)
    assert len(program) > 20, "the scenario should produce a real trace"
    if program != engine:
        first = next(i for i, (a, b) in enumerate(zip(program + [""], engine + [""])) if a != b)
        context = slice(max(0, first - 3), first + 3)
        pytest.fail(f"traces differ at line {first}:\nprogram: {program[context]}\nengine:  {engine[context]}")


def test_scenarios_cover_every_policy_and_feature():
    scenarios = [Scenario.from_link(link) for _, link, _ in SCENARIOS]
    assert {s.policy for s in scenarios} == {"block", "timeout", "reject", "drop-oldest"}
    assert {s.producer for s in scenarios} == {"open", "closed"}
    assert {s.arrivals for s in scenarios} == {"steady", "poisson", "bursts", "wave", "asap"}
    assert {s.service_dist for s in scenarios} == {"constant", "exponential", "lognormal"}
    assert any(s.max_age for s in scenarios)
    assert {(s.timeout > 0, s.rate_limit > 0, s.retries > 0) for s in scenarios if s.limiter == "aimd"} >= {
        (True, False, False), (False, True, True), (False, False, False)}
    assert {s.discipline for s in scenarios} == {"fifo", "lifo", "adaptive-lifo"}
    assert {s.discipline for s in scenarios if s.codel == "on"} == {"fifo", "lifo", "adaptive-lifo"}
    assert any(s.timeout for s in scenarios)
    assert any(s.capacity for s in scenarios)
    assert any(s.contention for s in scenarios)
    assert any(s.rate_limit for s in scenarios) and any(s.rate_burst for s in scenarios)
    assert {s.jitter for s in scenarios if s.retries} == {"none", "full", "equal", "decorrelated"}
    assert any(s.retry_budget for s in scenarios)
    assert any(s.abandon == "continue" and s.timeout for s in scenarios)
    assert {s.policy for s in scenarios if s.client_retries} == {"reject", "timeout"}
    assert any(s.memory for s in scenarios)
    assert any(0 < s.limit < s.workers for s in scenarios)
    assert any(s.limit == 0 for s in scenarios)
    assert sum(1 for s in scenarios if s.items) >= 5  # finite runs drain and shut down
    assert len(scenarios) >= 20


def test_handbook_trace_is_the_handbooks():
    """The handbook's program, with its shutdown fixed, prints exactly this."""
    assert engine_trace(Scenario.from_link("preset=handbook"), None) == HANDBOOK_TRACE


def test_generated_program_runs_standalone(tmp_path):
    """The code view's program is a complete script: it runs with plain python."""
    import subprocess
    import sys

    path = tmp_path / "handbook.py"
    path.write_text(generate(Scenario.from_link("preset=handbook"), python="3.11"))
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines][-3:] == [
        "worker-0 shutdown", "worker-1 shutdown", "worker-2 shutdown"]
    assert len(lines) == 21


def test_parity_traces_show_every_kind_of_event():
    """The scenarios above are only worth comparing if every event kind happens in them."""
    kinds = set()
    for _, link, until in SCENARIOS:
        engine = Engine(Scenario.from_link(link), event_cap=None)
        engine.run(until)
        kinds |= {event[1] for event in engine.read_events()}
    assert kinds == {trace.PRODUCE, trace.ENQUEUED, trace.HANDLED, trace.SHUTDOWN, trace.REJECTED,
                     trace.DROPPED, trace.PUT_TIMEOUT, trace.STALE, trace.CODEL_DROP, trace.TIMEOUT, trace.CRASH,
                     trace.RESTART, trace.THROTTLED, trace.RETRY, trace.REQUEST_RETRY}
