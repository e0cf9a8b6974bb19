"""Theory beside the data (issue 11): the numbers the page's theory panel states, checked
against headless runs."""

from __future__ import annotations

import pytest

from playground.model.scenario import Scenario
from playground.sim.engine import Engine
from playground.teach.explain import Explainer, servers, why_no_formula


def explained(link: str, until: float) -> dict:
    """The theory block as a page watching ``link`` sees it at ``until`` (a frame every 0.5 s)."""
    engine = Engine(Scenario.from_link(link), event_cap=0, keep_windows=8)
    explainer = Explainer()
    t = 0.0
    while t < until:
        t += 0.5
        engine.run(t)
        block = explainer.block(engine)
    return block


def close(a: float, b: float, within: float) -> bool:
    return abs(a - b) <= within * abs(b)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_where_theory_applies_it_predicts_what_the_run_measures(seed):
    block = explained(f"preset=webhook-ingestion&seed={seed}", 150)  # M/M/4/44
    model, seen = block["model"], block["measured"]
    assert model["name"] == "M/M/4/44" and block["why_not"] is None and block["span"] == 30
    assert close(seen["throughput"], model["throughput"], 0.08)
    assert close(seen["mean_in_system"], model["mean_in_system"], 0.10)
    assert close(seen["mean_latency"], model["mean_latency"], 0.10)
    assert abs(seen["blocking"] - model["blocking"]) < 0.05


def test_littles_law_holds_over_the_last_30_seconds_of_a_stable_run():
    block = explained("rate=30&queue=0&workers=4&limit=0&service_time=0.1", 200)  # M/M/4, ρ = 0.75
    little = block["little"]
    assert close(little["L"], little["lambda"] * little["W"], 0.05)
    assert block["rho"] == 0.75 and block["model"]["name"] == "M/M/4"


def test_an_unbounded_overloaded_queue_says_how_fast_it_grows_and_when_memory_runs_out():
    early, later = explained("preset=unbounded-oom", 5), explained("preset=unbounded-oom", 10)
    assert early["growth"] == later["growth"] == 20.0  # 60/s against 4 calls of 0.1 s
    assert later["memory_in"] < early["memory_in"]
    # The prediction is the run's: it crashes about when the panel said, give or take the noise.
    engine = Engine(Scenario.from_preset("unbounded-oom"), event_cap=0)
    engine.run(10 + early["memory_in"] + 10)
    assert engine.crashes >= 1


def test_no_formula_is_claimed_where_none_applies():
    s = Scenario.from_preset("no-semaphore")
    assert servers(s) == 8  # the downstream's capacity is what runs at full speed
    assert "slows past its capacity" in why_no_formula(s)
    assert explained("preset=no-semaphore", 2)["model"] is None
    assert explained("preset=no-semaphore", 2)["rho"] == 0.8125
    assert "closed producers" in why_no_formula(Scenario.from_preset("handbook"))
    assert why_no_formula(Scenario.from_preset("webhook-ingestion")) is None
