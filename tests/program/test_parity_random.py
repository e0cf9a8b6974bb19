"""Parity on random links: the engine's trace equals the generated program's for links drawn from
the whole vocabulary, each with at least one of the mechanisms past the handbook (issue 24: queue
orders, CoDel, AIMD), so a new key is tried against every old one, not only in hand-picked cases."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parity_cases import engine_trace
from virtual_clock import run_program

from playground.model.scenario import Scenario, ScenarioError
from playground.program.codegen import generate

#: Values each key is drawn from: small enough that a few seconds of run are a few thousand events.
VALUES = {
    "arrivals": ["steady", "poisson", "bursts", "wave", "asap"],
    "rate": [10, 40, 80, 120],
    "burst": [5, 20],
    "period": [0.5, 1.5],
    "producer": ["open", "closed"],
    "producers": [1, 3],
    "items": [0, 0, 150],
    "queue": [0, 3, 20],
    "policy": ["block", "timeout", "reject", "drop-oldest"],
    "put_timeout": [0.05, 0.3],
    "max_age": [0, 0.2],
    "discipline": ["fifo", "lifo", "adaptive-lifo"],
    "codel": ["off", "on"],
    "codel_target": [0.005, 0.05],
    "codel_interval": [0.05, 0.2],
    "workers": [1, 3, 8],
    "limit": [0, 2, 4],
    "limiter": ["fixed", "aimd", "vegas", "gradient2"],
    "limit_min": [1, 2],
    "limit_max": [6, 256],
    "aimd_backoff": [0.5, 0.9],
    "vegas_alpha": [1, 3],
    "vegas_beta": [4, 6],
    "gradient_tolerance": [1.0, 1.5],
    "gradient_smoothing": [0.2, 1.0],
    "service_time": [0.02, 0.1],
    "service_dist": ["constant", "exponential", "lognormal"],
    "timeout": [0, 0.05, 0.15],
    "abandon": ["stop", "continue"],
    "capacity": [0, 3],
    "contention": [0, 0.3],
    "rate_limit": [0, 25],
    "retries": [0, 2],
    "jitter": ["none", "full", "decorrelated"],
    "retry_budget": [0, 0.3],
    "client_retries": [0, 2],
    "memory": [0, 40],
    "restart": [0.3],
    "seed": [1, 7, 12345],
}
NEW = ({"discipline": "lifo"}, {"discipline": "adaptive-lifo"}, {"codel": "on"}, {"limiter": "aimd"},
       {"limiter": "vegas"}, {"limiter": "gradient2"})
UNTIL = 3.0


@st.composite
def links(draw) -> Scenario:
    while True:
        values = {key: draw(st.sampled_from(choices)) for key, choices in VALUES.items()}
        values.update(draw(st.sampled_from(NEW)))
        if values["limiter"] != "fixed":
            values["limit"] = max(values["limit"], values["limit_min"])
        try:
            return Scenario.from_mapping(values)
        except ScenarioError:  # a combination the vocabulary refuses (asap that never waits, ...)
            continue


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(links())
def test_a_random_link_prints_the_same_trace_in_the_engine_and_the_program(scenario):
    program = run_program(generate(scenario, python="3.11"), until=UNTIL)
    engine = engine_trace(scenario, UNTIL)
    if program != engine:
        first = next(i for i, (a, b) in enumerate(zip(program + [""], engine + [""])) if a != b)
        context = slice(max(0, first - 3), first + 3)
        raise AssertionError(f"{scenario.to_link()}: traces differ at line {first}:\n"
                             f"program: {program[context]}\nengine:  {engine[context]}")
