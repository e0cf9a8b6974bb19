"""Adaptive limits (issue 24): Netflix's AIMD in place of a fixed semaphore, each claim checked at
seeds 1-5 against a sweep of fixed limits on the same downstream (the README says the same)."""

from __future__ import annotations

import functools

import pytest

from playground.model.scenario import Scenario, ScenarioError
from playground.sim.engine import Engine
from playground.sim.kernel import Loop
from playground.sim.limiters import AIMDLimiter

# The no-semaphore preset's world: 32 workers, 65 items/s, a downstream fast up to 8 calls at once
# and slower with every call past them (contention); here its calls also time out at 0.3 s.
DOWNSTREAM = "workers=32&capacity=8&contention=0.1&rate=65&service_time=0.1"
TIMED = DOWNSTREAM + "&timeout=0.3"
SEEDS = range(1, 6)


def run(link: str, until: float = 60) -> Engine:
    engine = Engine(Scenario.from_link(link))
    engine.run(until)
    return engine


@pytest.mark.parametrize("seed", SEEDS)
def test_aimd_with_timeouts_finds_a_limit_near_the_best_fixed_ones(seed):
    fixed = {limit: run(f"{TIMED}&limit={limit}&seed={seed}").summary()["completed"] for limit in range(2, 17)}
    best = max(fixed.values())
    aimd = run(f"{TIMED}&limit=4&limiter=aimd&seed={seed}")
    assert aimd.summary()["completed"] >= 0.8 * best, (aimd.summary()["completed"], fixed)
    # It is no better than the best fixed limit: it pays for its probing above the knee.
    assert aimd.summary()["completed"] <= best


@pytest.mark.parametrize("seed", SEEDS)
def test_aimd_without_failures_never_backs_off_and_collapses_like_no_semaphore(seed):
    aimd = run(f"{DOWNSTREAM}&limit=4&limiter=aimd&seed={seed}")
    unlimited = run(f"{DOWNSTREAM}&limit=0&seed={seed}")
    assert aimd.service.semaphore.limit > 32  # past every worker: it limits nothing
    assert aimd.summary()["completed"] == pytest.approx(unlimited.summary()["completed"], rel=0.02)
    assert aimd.summary()["timeouts"] == 0 and aimd.summary()["throttled"] == 0


def test_the_limit_moves_as_netflix_aimdlimit_moves_it():
    """_update(): a drop multiplies (truncating), a success with at least half the limit in use
    adds one, anything else leaves it; then it is clamped to [min, max]."""
    limiter = AIMDLimiter(Loop(), limit=10, low=2, high=12, backoff=0.9)
    for _ in range(3):
        assert limiter.try_acquire()
    limiter.release(in_flight=5, failed=False, rtt=0.1)  # 5 * 2 >= 10: +1
    assert limiter.limit == 11
    limiter.release(in_flight=3, failed=False, rtt=0.1)  # 3 * 2 < 11: unchanged
    assert limiter.limit == 11
    limiter.release(in_flight=3, failed=True, rtt=0.1)  # int(11 * 0.9) = 9
    assert limiter.limit == 9
    limiter.limit = 2
    assert limiter.try_acquire()
    limiter.release(in_flight=1, failed=True, rtt=0.1)  # int(2 * 0.9) = 1, clamped to 2
    assert limiter.limit == 2
    limiter.limit = 12
    assert limiter.try_acquire()
    limiter.release(in_flight=12, failed=False, rtt=0.1)  # 13, clamped to 12
    assert limiter.limit == 12


def test_the_page_sees_the_limit_move():
    from playground.web.frames import snapshot

    engine = run(f"{TIMED}&limit=4&limiter=aimd&seed=1", until=20)
    semaphore = snapshot(engine)["semaphore"]
    assert semaphore["limiter"] == "aimd" and semaphore["initial"] == 4
    assert semaphore["limit"] == engine.service.semaphore.limit != 4


def test_a_limiter_that_cannot_hold_its_start_is_refused():
    with pytest.raises(ScenarioError, match="limit_min <= limit <= limit_max") as refused:
        Scenario.from_link("limiter=aimd&limit=0")
    assert refused.value.field == "limit"
    with pytest.raises(ScenarioError, match="limit_min=5"):
        Scenario.from_link("limiter=aimd&limit=4&limit_min=5")


def test_the_limiter_cannot_change_while_running():
    engine = run(f"{TIMED}&limit=4", until=1)
    with pytest.raises(ScenarioError, match="limiter cannot change while running"):
        engine.apply({"set": {"limiter": "aimd"}})
    assert engine.scenario.limiter == "fixed"


def test_new_bounds_keep_the_limit_it_learned_and_a_new_start_resets_it():
    engine = run("limiter=aimd&limit=4&limit_min=2&limit_max=40&rate=100&workers=30&service_time=0.1", until=10)
    learned = engine.service.semaphore.limit
    assert learned > 20
    engine.apply({"set": {"limit_max": 60}})
    assert engine.service.semaphore.limit == learned  # raising the ceiling does not lower it
    engine.apply({"set": {"limit_max": 20}})
    assert engine.service.semaphore.limit == 20  # a lower ceiling clamps it
    engine.apply({"set": {"limit": 5}})
    assert engine.service.semaphore.limit == 5  # a new starting limit starts it there again


@pytest.mark.parametrize("control, field", [
    ({"limit_max": 3}, "limit_max"), ({"limit_min": 9}, "limit_min"), ({"limit": 0}, "limit")])
def test_a_control_that_breaks_the_bounds_is_refused_under_the_key_it_changed(control, field):
    engine = run(f"{TIMED}&limit=4&limiter=aimd", until=1)
    before = engine.scenario
    with pytest.raises(ScenarioError, match="limit_min <= limit <= limit_max") as refused:
        engine.apply({"set": control})
    assert refused.value.field == field and engine.scenario == before


# Latency-based limits: Netflix's Vegas and Gradient2 read each call's round trip, so they see the
# downstream slow down past its knee even when nothing fails (no timeouts here).

@functools.cache
def best_fixed(link: str, seed: int) -> tuple[int, int]:
    """The most a fixed limit from 2 to 16 completes in a minute on ``link``, and which limit."""
    fixed = {limit: run(f"{link}&limit={limit}&seed={seed}").summary()["completed"] for limit in range(2, 17)}
    limit = max(fixed, key=fixed.get)
    return fixed[limit], limit


@pytest.mark.parametrize("seed", SEEDS)
def test_vegas_finds_a_limit_near_the_knee_with_no_failure_to_tell_it(seed):
    best, _ = best_fixed(DOWNSTREAM, seed)
    vegas = run(f"{DOWNSTREAM}&limit=4&limiter=vegas&seed={seed}")
    unlimited = run(f"{DOWNSTREAM}&limit=0&seed={seed}")
    assert vegas.summary()["completed"] >= 0.85 * best, (vegas.summary()["completed"], best)
    assert vegas.summary()["completed"] >= 2 * unlimited.summary()["completed"]  # where AIMD is
    assert 4 <= vegas.service.semaphore.limit <= 12


@pytest.mark.parametrize("seed", SEEDS)
def test_gradient2_settles_above_the_knee_at_netflix_defaults_and_near_it_with_no_tolerance(seed):
    """At its default tolerance (1.5) Gradient2 lets calls run 1.5 times their own long-run average,
    which rises as it lets more in: it settles past the best fixed limit, still far above no limit.
    With a tolerance of 1 it holds near the knee."""
    best, best_limit = best_fixed(DOWNSTREAM, seed)
    default = run(f"{DOWNSTREAM}&limit=4&limiter=gradient2&seed={seed}")
    strict = run(f"{DOWNSTREAM}&limit=4&limiter=gradient2&gradient_tolerance=1&seed={seed}")
    unlimited = run(f"{DOWNSTREAM}&limit=0&seed={seed}")
    assert default.service.semaphore.limit > best_limit
    assert 1.5 * unlimited.summary()["completed"] <= default.summary()["completed"] < 0.8 * best
    assert strict.summary()["completed"] >= 0.8 * best, (strict.summary()["completed"], best)


@pytest.mark.parametrize("seed", SEEDS)
def test_gradient2_shrinks_its_limit_during_a_hiccup_and_grows_it_back_after(seed):
    engine = Engine(Scenario.from_link(f"{DOWNSTREAM.replace('rate=65', 'rate=40')}&limit=4"
                                       f"&limiter=gradient2&seed={seed}"))
    limits = {}
    for step in range(1, 101):  # every half second for 50 s; calls 3x slower from 30 to 35 s
        t = step / 2
        if t == 30.5:
            engine.apply({"action": "hiccup", "factor": 3, "seconds": 5})
        engine.run(t)
        limits[t] = engine.service.semaphore.limit
    before = sorted(v for t, v in limits.items() if 20 <= t <= 30)
    during = [v for t, v in limits.items() if 31 <= t <= 36]
    after = [v for t, v in limits.items() if 40 <= t <= 50]
    assert min(during) < before[0], (before, during)
    assert max(after) >= before[len(before) // 2], (before, after)
