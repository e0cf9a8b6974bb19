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


def _watched(link: str, until: float, hiccup_at: float | None = None):
    """Every theory block a page watching ``link`` sees (a frame every 0.5 s), with a Hiccup
    (the page's: ×5 for 3 s) pressed at ``hiccup_at``."""
    engine = Engine(Scenario.from_link(link), event_cap=0, keep_windows=8)
    explainer = Explainer()
    t = 0.0
    yield t, explainer.block(engine)  # the page's first frame, at t = 0
    while t < until and not engine.finished:
        t += 0.5
        engine.run(t)
        if hiccup_at is not None and t == hiccup_at:
            engine.apply({"action": "hiccup", "factor": 5, "seconds": 3})
        yield t, explainer.block(engine)


def test_the_retry_storm_is_described_as_it_runs_before_during_and_after_its_hiccup():
    """Issue 21, item 1: before the hiccup the theory says the service keeps up (it does: 65/s
    of 65/s); during it, the effective ρ and the hiccup; after it, a collapse: never 'keeps up'
    though the nominal ρ is still 0.65."""
    seen = dict(_watched("preset=retry-storm", 90, hiccup_at=20))
    before = seen[19.5]
    assert before["lines"][0] == "Utilisation ρ = λ·S / c = 65.0/s × 100 ms / 10 = 0.65: the service keeps up on average."
    assert before["measured"]["throughput"] > 0.95 * 65
    # Half a second in, the panel says the hiccup is on; a second in, the pace it sets.
    assert any(line.startswith("Now a hiccup makes every call ×5.0 slower until 23.0 s") for line in seen[20.0]["lines"])
    during = seen[22.0]
    first = during["lines"][0]
    assert "with the nominal call time; but over the last 5.0 s the downstream spent" in first
    assert "a hiccup makes every call ×5.0 slower until 23.0 s" in first
    assert during["downstream"]["rho"] > 1 and "more work arrives than the service can do at this pace" in first
    for t in (30.0, 45.0, 60.0, 90.0):
        block = seen[t]
        first = block["lines"][0]
        assert "keeps up" not in " ".join(block["lines"]), (t, block["lines"])
        assert block["downstream"]["rho"] > 3, (t, block["downstream"])
        assert "% of the downstream's work is on calls that timed out" in first, (t, first)
        assert "attempts (retries)" in first and "against a capacity of 10" in first
        # ... and the run bears it out: once its 30 s are all after the hiccup, it completes under
        # a third of what arrives.
        if t >= 60:
            assert block["measured"]["throughput"] < 65 / 3, (t, block["measured"])


def test_semaphore_vs_none_side_a_is_not_called_busy_but_collapsing():
    block = dict(_watched("preset=no-semaphore", 30))[30.0]
    first = block["lines"][0]
    assert first.startswith("Utilisation ρ = λ·S / c = 65.0/s × 100 ms / 8 = 0.81 with the nominal call time; but")
    assert "32 calls in flight against a capacity of 8" in first and "busy" not in first


@pytest.mark.parametrize("preset", ["webhook-ingestion", "api-fan-out", "retry-storm", "retry-budget",
                                    "no-semaphore", "unbounded-oom", "stale-work", "rate-limited-fan-out",
                                    "bursty-pipeline"])
def test_no_run_that_falls_behind_is_said_to_keep_up(preset):
    """A claim the panel makes about every open run: 'keeps up' only while the last span's
    completions keep pace with its arrivals (and its backlog does not grow)."""
    from playground.teach.explain import keeping_up

    for t, block in _watched(f"preset={preset}", 60, hiccup_at=20):
        text = " ".join(block["lines"])
        if keeping_up(block) is False:
            assert "keeps up" not in text, (preset, t, block["lines"])


def test_littles_law_names_the_span_it_read():
    lines = dict(_watched("preset=handbook", 1))[0.5]["lines"]
    assert any(line.startswith("Little's law over the last 0.5 s") for line in lines), lines  # not "0 s"
    spans = {round(block["span"]) for t, block in _watched("rate=30&workers=4&limit=0&service_time=0.1", 45) if t > 31}
    assert spans == {30}


def _block(link: str, until: float) -> tuple[dict, Engine]:
    engine, explainer = Engine(Scenario.from_link(link)), Explainer()
    for n in range(1, int(until * 2) + 1):
        engine.run(n * 0.5)
        block = explainer.block(engine)
    return block, engine


def test_the_panel_says_what_the_aimd_limiter_allows_now():
    block, engine = _block("workers=32&capacity=8&contention=0.1&rate=65&timeout=0.3&limit=4&limiter=aimd", 20)
    line = next(line for line in block["lines"] if line.startswith("The AIMD limiter"))
    assert f"allows {engine.service.semaphore.limit} calls at once now (it started at 4;" in line
    assert "Little's law puts the calls this throughput needs at" in line


def test_the_panel_says_what_codel_and_adaptive_lifo_are_doing():
    block, engine = _block("preset=standing-queue&codel=on", 20)
    assert engine.service.codel.dropping
    assert any(line.startswith("CoDel is dropping: its drop count is") for line in block["lines"])
    # CoDel sheds what waits: the panel does not say the unbounded queue grows without end.
    assert not any("grows by about" in line for line in block["lines"])
    block, engine = _block("preset=standing-queue&discipline=adaptive-lifo", 20)
    assert any(line.startswith("Adaptive LIFO serves the newest first now") for line in block["lines"])
    block, _ = _block("preset=standing-queue&discipline=adaptive-lifo&rate=10", 20)
    assert not any("newest first now" in line for line in block["lines"])
