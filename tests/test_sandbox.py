"""The sandbox bounds work, not instants: for any link the vocabulary allows, at any
allowed speed, one catch-up runs at most the work budget (counted in the engine's
callbacks), however much happens at one instant. The worst wall time of a frame is
logged (a number to watch, not a timed assertion; bench/sandbox.py measures it)."""

from __future__ import annotations

import logging
import time
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.scenario import FIELDS, Scenario, ScenarioError
from playground.sessions import SPEED_MAX, SPEED_MIN, Session
from playground.settings import Settings

log = logging.getLogger(__name__)

#: The link the outside review froze the server with.
FREEZING_LINK = ("arrivals=bursts&rate=2000&burst=10000&period=0.1&queue=0&workers=256&limit=0"
                 "&service_time=0.001&service_dist=constant")
BUDGET = 300
FRAME = 0.05


class CountingDeque(deque):
    """The loop's ready queue, counting the callbacks it hands out."""

    popped = 0

    def popleft(self):
        CountingDeque.popped += 1
        return super().popleft()


def value(field, draw):
    """Any allowed value, with the extremes (where the worst cases live) likely."""
    if field.kind == "choice":
        return draw(st.sampled_from(field.choices))
    if field.kind == "int":
        return draw(st.one_of(st.sampled_from([field.minimum, field.maximum]),
                              st.integers(field.minimum, field.maximum)))
    return draw(st.one_of(st.sampled_from([field.minimum, field.maximum]),
                          st.floats(field.minimum, field.maximum, allow_nan=False)))


@st.composite
def any_scenario(draw):
    while True:
        values = {key: value(field, draw) for key, field in FIELDS.items()
                  if key not in ("seed",) and draw(st.booleans())}
        try:
            return Scenario.from_mapping(values)
        except ScenarioError:  # a combination the vocabulary refuses (e.g. asap that never waits)
            continue


def watch(scenario: Scenario, speed: float, frames: int, budget: int = BUDGET, max_items: int = 5000):
    """Run ``frames`` catch-ups one frame apart; the most callbacks and seconds one took."""
    settings = Settings(tick_budget=budget, max_items=max_items)
    session = Session("s", "t", "c", scenario, settings, now=0.0)
    session.engine.loop.ready = CountingDeque(session.engine.loop.ready)
    session.watched = True
    session.speed = speed
    most, slowest = 0, 0.0
    for n in range(1, frames + 1):
        CountingDeque.popped = 0
        started = time.perf_counter()
        session.catch_up(n * FRAME)
        slowest = max(slowest, time.perf_counter() - started)
        most = max(most, CountingDeque.popped)
        if session.halted:
            break
    return session, most, slowest


worst_seen = {"seconds": 0.0, "link": ""}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=any_scenario(), speed=st.one_of(st.just(SPEED_MAX), st.floats(SPEED_MIN, SPEED_MAX)))
def test_one_catch_up_runs_at_most_the_budget_for_any_link(scenario, speed):
    _, most, slowest = watch(scenario, speed, frames=20)
    assert most <= BUDGET
    if slowest > worst_seen["seconds"]:
        worst_seen.update(seconds=slowest, link=scenario.to_link())
        log.warning("worst catch-up so far: %.1f ms for %s at %gx", slowest * 1000, scenario.to_link(), speed)


def test_the_freezing_link_falls_behind_real_time_and_says_so():
    session, most, slowest = watch(Scenario.from_link(FREEZING_LINK), SPEED_MAX, frames=40,
                                   max_items=50_000)
    assert most <= BUDGET
    log.warning("freezing link: worst catch-up %.1f ms", slowest * 1000)
    frame = session.frame(_cursor())
    assert frame["throttled"] and frame["effective_speed"] < SPEED_MAX
    assert "runs at" in frame["message"]


def test_many_streams_on_one_session_share_one_budget_per_frame():
    """Each stream's tick calls catch_up; the session works once per frame, not once per stream."""
    settings = Settings(tick_budget=BUDGET)
    session = Session("s", "t", "c", Scenario.from_link(FREEZING_LINK), settings, now=0.0)
    session.engine.loop.ready = CountingDeque(session.engine.loop.ready)
    session.watched = True
    session.speed = SPEED_MAX
    CountingDeque.popped = 0
    for n in range(1, 11):  # ten frames ...
        for stream in range(50):  # ... each seen by fifty streams, a millisecond apart
            session.catch_up(n * FRAME + stream * 0.0005)
    assert CountingDeque.popped <= 10 * BUDGET


def _cursor():
    from playground.sessions import Cursor
    return Cursor()


def test_calls_abandoned_in_the_downstream_count_against_the_sandbox_limit():
    """Timed-out calls that go on are no longer held items, but each is a live task: a link that
    abandons them faster than they end is halted, with a sentence, like one that holds too much."""
    link = ("rate=2000&workers=256&limit=0&timeout=0.001&service_time=60&service_dist=constant"
            "&abandon=continue&queue=0")
    session, _, _ = watch(Scenario.from_link(link), SPEED_MAX, frames=400, budget=20_000, max_items=5000)
    assert session.halted and "calls running in the downstream" in session.halted
    assert session.engine.metrics.in_system <= 5000 < session.engine.service.in_flight
    stopping, _, _ = watch(Scenario.from_link(link.replace("continue", "stop")), SPEED_MAX, frames=400,
                           budget=20_000, max_items=5000)
    assert not stopping.halted and stopping.engine.service.in_flight <= 256


def test_a_comparison_of_the_worst_link_runs_at_most_one_budget_per_engine_per_frame():
    """Two engines, one budget each: a comparison costs at most twice a single session's work."""
    from playground.compare import Comparison

    comparison = Comparison.from_link(FREEZING_LINK + "&b.queue=100&b.policy=drop-oldest")
    session = Session("s", "t", "c", comparison.a, Settings(tick_budget=BUDGET), now=0.0, b=comparison.b)
    for side in session.sides:
        side.engine.loop.ready = CountingDeque(side.engine.loop.ready)
    session.watched = True
    session.speed = SPEED_MAX
    CountingDeque.popped = 0
    for n in range(1, 21):
        for stream in range(20):
            session.catch_up(n * FRAME + stream * 0.001)
    assert 20 * BUDGET < CountingDeque.popped <= 20 * 2 * BUDGET  # both engines work, each within its budget
    assert session.throttled  # it falls behind real time instead
