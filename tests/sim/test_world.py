"""The world around the program (issue 9): a rate-limited downstream, retries with backoff and a
budget, hiccups, and the metastable failure they make together, each checked on the CLI's JSON
or on the engine itself, never on hand-typed numbers."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.cli import main
from playground.model import theory
from playground.model.scenario import Scenario, ScenarioError
from playground.sim import trace, world
from playground.sim.engine import Engine

# 65 % utilisation (65 items/s against capacity / service_time = 100 calls/s), 100 workers with
# no semaphore, a downstream that loses throughput past its capacity, lognormal calls that time
# out at 0.25 s and are retried three times, with neither jitter nor budget: retry-storm's link.
METASTABLE = ("arrivals=steady&rate=65&workers=100&limit=0&capacity=10&contention=0.1"
              "&service_time=0.1&service_dist=lognormal&timeout=0.25&queue=0&retries=3&jitter=none")
RATE = 65
HICCUP = "30:10:5"  # at 30 s the downstream is 10 times slower for 5 s
HICCUP_END = 35.0


def run_json(capsys, link: str, *options: str) -> dict:
    status = main(["run", link, "--json", *options])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def goodput(series: list[dict], start: float, end: float) -> list[float]:
    return [span["goodput"] for span in series if start <= span["start"] and span["end"] <= end]


def test_a_short_hiccup_leaves_retries_without_a_budget_collapsed(capsys):
    run = run_json(capsys, METASTABLE, "--until", "160", "--hiccup", HICCUP, "--every", "10")
    series = run["series"]
    before = sum(goodput(series, 10, 30)) / len(goodput(series, 10, 30))
    assert before == pytest.approx(RATE, rel=0.05)  # it was serving everything before
    after = goodput(series, HICCUP_END, 160)
    assert len(after) == 12  # two minutes after the hiccup ended (60 s asked), in 10-s spans
    assert max(after) < 0.3 * before, after  # and goodput never came back above 30 % of it
    assert run["retries"] > run["completed"]  # the load that keeps it down is its own retries


@pytest.mark.parametrize("cure", ["&retry_budget=0.1", "&limit=10"], ids=["retry budget", "semaphore"])
def test_the_same_hiccup_is_shrugged_off_with_a_retry_budget_or_a_semaphore(capsys, cure):
    link = METASTABLE.replace("&limit=0", "") + cure if "limit" in cure else METASTABLE + cure
    series = run_json(capsys, link, "--until", "120", "--hiccup", HICCUP, "--every", "5")["series"]
    before = sum(goodput(series, 10, 30)) / len(goodput(series, 10, 30))
    # Within 10 s of the hiccup's end goodput is back, and it stays back.
    recovered = goodput(series, HICCUP_END + 10, 120)
    assert min(recovered) > 0.85 * before, recovered


def test_without_the_hiccup_the_metastable_link_runs_fine(capsys):
    series = run_json(capsys, METASTABLE, "--until", "120", "--every", "10")["series"]
    assert min(goodput(series, 0, 120)) > 0.95 * RATE


# Rate limit ------------------------------------------------------------------------------------


class RecordingBucket(world.TokenBucket):
    """The engine's token bucket, noting when it admitted a call."""

    __slots__ = ("admitted",)

    def __init__(self, depth):
        super().__init__(depth)
        self.admitted = []

    def take(self, now, rate, depth):
        if super().take(now, rate, depth):
            self.admitted.append(now)
            return True
        return False


@settings(max_examples=40, deadline=None)
@given(rate_limit=st.sampled_from([1, 2.5, 7, 20, 55]), rate_burst=st.sampled_from([0, 1, 3, 10, 40]),
       rate=st.sampled_from([5, 30, 120]), retries=st.integers(0, 3),
       arrivals=st.sampled_from(["poisson", "bursts", "steady"]), seed=st.integers(0, 5))
def test_admitted_calls_never_exceed_the_rate_over_any_ten_seconds_plus_the_bucket(
        rate_limit, rate_burst, rate, retries, arrivals, seed):
    scenario = Scenario.from_link(
        f"rate_limit={rate_limit}&rate_burst={rate_burst}&rate={rate}&arrivals={arrivals}&burst=40"
        f"&period=3&retries={retries}&backoff=0.05&workers=16&limit=0&queue=50&seed={seed}")
    engine = Engine(scenario, event_cap=0)
    engine.bucket = bucket = RecordingBucket(world.bucket_depth(rate_limit, rate_burst))
    engine.run(40)
    times = bucket.admitted
    depth = world.bucket_depth(rate_limit, rate_burst)
    j = 0
    for i, start in enumerate(times):  # every 10-s window that starts at an admission
        while j < len(times) and times[j] < start + 10:
            j += 1
        assert j - i <= rate_limit * 10 + depth + 1e-9, (start, j - i)
    summary = engine.summary()
    if not retries:  # each attempt was admitted or throttled (an outcome) once
        assert summary["attempts"] == len(times) + summary["throttled"]
    else:  # a throttled attempt may have been retried rather than be an outcome
        assert summary["attempts"] >= len(times) + summary["throttled"]


def test_a_rate_limited_downstream_caps_goodput_at_the_rate(capsys):
    run = run_json(capsys, "rate=50&rate_limit=20&workers=8&limit=0&queue=0&service_time=0.05",
                   "--until", "100")
    assert run["throughput"] == pytest.approx(20, rel=0.03)
    assert run["throttled"] == pytest.approx(30 * 100, rel=0.05)
    assert run["arrived"] == (run["completed"] + run["throttled"] + run["in_system"])


# Retries and backoff ----------------------------------------------------------------------------


def retry_delays(link: str, until: float) -> list[tuple[int, float]]:
    engine = Engine(Scenario.from_link(link), event_cap=None)
    engine.run(until)
    return [(event[2], event[3][1]) for event in engine.read_events() if event[1] == trace.RETRY]


def test_backoff_without_jitter_doubles_up_to_the_cap():
    delays = retry_delays("retries=5&jitter=none&backoff=0.01&backoff_cap=0.05&rate_limit=1&rate_burst=1"
                          "&rate=5&workers=2&limit=0", 20)
    by_item: dict[int, list[float]] = {}
    for item, delay in delays:
        by_item.setdefault(item, []).append(delay)
    full = [d for d in by_item.values() if len(d) == 5]
    assert full and all(d == [0.01, 0.02, 0.04, 0.05, 0.05] for d in full), full[:3]


@pytest.mark.parametrize("jitter", ["full", "equal", "decorrelated"])
def test_jittered_backoffs_stay_in_their_bounds_and_spread(jitter):
    base, cap = 0.01, 0.2
    engine = Engine(Scenario.from_link(
        f"retries=6&jitter={jitter}&backoff={base}&backoff_cap={cap}&rate_limit=2&rate_burst=1&rate=10"
        "&workers=4&limit=0"), event_cap=None)
    engine.run(60)
    sequences: dict[int, list[float]] = {}
    for event in engine.read_events():
        if event[1] == trace.RETRY:
            sequences.setdefault(event[2], []).append(event[3][1])
    seen = [delay for seq in sequences.values() for delay in seq]
    assert len(seen) > 100 and len(set(seen)) > 0.9 * len(seen)  # random, not one value
    for seq in sequences.values():
        previous = base
        for attempt, delay in enumerate(seq, 1):
            ceiling = min(cap, base * 2 ** (attempt - 1))
            low, high = {"full": (0, ceiling), "equal": (ceiling / 2, ceiling),
                         "decorrelated": (min(cap, base), min(cap, previous * 3))}[jitter]
            assert low <= delay <= high, (jitter, attempt, delay, low, high)
            previous = delay


class RecordingBudget(world.RetryBudget):
    """The engine's retry budget, noting every first attempt (its own deque forgets them)."""

    __slots__ = ("noted",)

    def __init__(self):
        super().__init__()
        self.noted = []

    def first(self, now):
        self.noted.append(now)
        super().first(now)


def test_a_retry_budget_bounds_retries_by_first_attempts_over_ten_seconds():
    budget = 0.2
    engine = Engine(Scenario.from_link(
        f"retries=3&retry_budget={budget}&timeout=0.05&rate=40&service_dist=lognormal&service_time=0.06"),
        event_cap=None)
    engine.budget = recording = RecordingBudget()
    engine.run(60)
    firsts = recording.noted
    retries = [event[0] for event in engine.read_events() if event[1] == trace.RETRY]
    assert len(retries) > 50
    for t in retries:
        recent_retries = sum(1 for r in retries if t - 10 < r <= t)
        recent_firsts = sum(1 for f in firsts if t - 10 < f <= t)
        assert recent_retries <= budget * recent_firsts + 1e-9, (t, recent_retries, recent_firsts)
    unbudgeted = Engine(Scenario.from_link(
        "retries=3&timeout=0.05&rate=40&service_dist=lognormal&service_time=0.06"), event_cap=0)
    unbudgeted.run(60)
    assert unbudgeted.retries > 2 * len(retries)  # the budget is what held them back


@settings(max_examples=30, deadline=None)
@given(link=st.sampled_from([
    "retries=3&timeout=0.1&rate=60&service_dist=lognormal",
    "retries=2&rate_limit=15&rate=40&policy=reject&queue=5",
    "retries=4&jitter=decorrelated&timeout=0.08&rate_limit=30&rate=50&workers=10&limit=0&capacity=4"
    "&contention=0.2&memory=60&restart=0.5",
    "retries=1&retry_budget=0.5&timeout=0.05&max_age=0.2&policy=drop-oldest&queue=8&rate=80",
    "client_retries=3&policy=reject&queue=4&rate=90&abandon=continue&timeout=0.1&memory=50&restart=0.3",
    "client_retries=2&policy=timeout&put_timeout=0.1&queue=3&rate=70&retries=2&rate_limit=20",
]), seed=st.integers(0, 50), until=st.floats(1, 20))
def test_every_item_ends_in_exactly_one_outcome_or_is_still_in_the_system(link, seed, until):
    engine = Engine(Scenario.from_link(f"{link}&seed={seed}"), event_cap=0)
    engine.run(until)
    s = engine.summary()
    ended = (s["completed"] + s["rejected"] + s["dropped"] + s["put_timeouts"] + s["stale"] + s["timeouts"]
             + s["throttled"] + s["lost"])
    assert s["arrived"] == ended + s["in_system"]
    assert s["attempts"] >= s["completed"] + s["timeouts"] + s["throttled"]


# Hiccups ------------------------------------------------------------------------------------------


def test_a_hiccup_slows_exactly_the_calls_that_start_during_it():
    engine = Engine(Scenario.from_link("arrivals=steady&rate=10&service_dist=constant&service_time=0.05"),
                    event_cap=None)
    engine.run(1.0)
    engine.apply({"action": "hiccup", "factor": 4, "seconds": 0.35})
    engine.run(3.0)
    events = engine.read_events()
    handled = {event[2]: event[0] for event in events if event[1] == trace.HANDLED}
    produced = {event[2]: event[0] for event in events if event[1] == trace.PRODUCE}
    took = {item: round(handled[item] - produced[item], 9) for item in handled if item in produced}
    slow = sorted(item for item, seconds in took.items() if seconds > 0.05 + 1e-9)
    assert [round(took[i], 6) for i in slow] == [0.2] * len(slow)
    # Started in (1.0, 1.35): the call that started at 1.0 itself began before the control,
    # which acts once the instant's own events have run.
    assert [round(produced[i], 3) for i in slow] == [1.1, 1.2, 1.3]


@pytest.mark.parametrize("control, field", [
    ({"action": "hiccup", "factor": 0.5, "seconds": 3}, "factor"),
    ({"action": "hiccup", "factor": 5, "seconds": 0}, "seconds"),
    ({"action": "hiccup", "factor": True, "seconds": 3}, "factor"),
    ({"action": "hiccup", "factor": 5}, "seconds"),
])
def test_a_bad_hiccup_is_refused_by_name_and_changes_nothing(control, field):
    engine = Engine(Scenario.from_link("rate=10"), event_cap=0)
    engine.run(1)
    with pytest.raises(ScenarioError) as refused:
        engine.apply(control)
    assert refused.value.field == field and "hiccup's" in str(refused.value)
    assert engine.hiccup_until == -math.inf and engine.control_log == []


def test_the_contention_formula_is_the_usl_retrograde_shape():
    peak = theory.downstream_throughput(10, 0.1, 10, 0.1)
    assert peak == 100 and theory.downstream_throughput(100, 0.1, 10, 0.1) == pytest.approx(10)


# Abandoned calls ------------------------------------------------------------------------------------

# The same service with a semaphore of 10 and no retries, but timed-out calls go on in the downstream.
ABANDONING = ("arrivals=steady&rate=70&workers=100&limit=10&capacity=10&contention=0.01"
              "&service_time=0.1&timeout=0.25&queue=0&abandon=continue")


def test_abandoned_calls_keep_a_hiccup_going_even_behind_a_semaphore(capsys):
    """The semaphore bounds the calls the workers wait on, not the ones they walked away from:
    those stay in the downstream, slow every call, which times out and is abandoned too."""
    series = run_json(capsys, ABANDONING, "--until", "120", "--hiccup", HICCUP, "--every", "10")["series"]
    before = sum(goodput(series, 10, 30)) / 2
    assert before > 0.9 * 70
    assert max(goodput(series, HICCUP_END, 120)) < 0.3 * before
    stopping = run_json(capsys, ABANDONING.replace("abandon=continue", "abandon=stop"), "--until", "120",
                        "--hiccup", HICCUP, "--every", "10")["series"]
    assert min(goodput(stopping, HICCUP_END + 10, 120)) > 0.85 * before


@pytest.mark.parametrize("abandon", ["stop", "continue"])
def test_in_flight_stays_within_the_semaphore_only_when_timed_out_calls_stop(abandon):
    engine = Engine(Scenario.from_link(ABANDONING.replace("abandon=continue", f"abandon={abandon}")),
                    event_cap=0)
    peak = peak_abandoned = 0
    for step in range(1, 1201):  # 60 s in steps of 0.05 s, a hiccup at 30 s
        engine.advance(step * 0.05)
        if step == 600:
            engine.apply({"action": "hiccup", "factor": 10, "seconds": 5})
        peak = max(peak, engine.service.in_flight)
        peak_abandoned = max(peak_abandoned, engine.service.abandoned_now())
    if abandon == "stop":
        assert peak <= 10 and peak_abandoned == 0
    else:
        assert peak > 100 and peak_abandoned >= peak - 10  # all but the permit holders


def test_client_retries_bring_shed_load_back_to_the_queue(capsys):
    """Rejecting is shedding load; a client that retries brings it back: the queue sees the
    arrivals plus every retry, and the items it finally takes wait longer."""
    link = "policy=reject&queue=10&rate=60&workers=4&limit=4&service_time=0.1"
    plain = run_json(capsys, link, "--until", "120")
    retried = run_json(capsys, link + "&client_retries=3&backoff=0.2", "--until", "120")
    assert plain["request_retries"] == 0 and retried["request_retries"] > retried["arrived"]
    puts_per_second = (retried["arrived"] + retried["request_retries"]) / 120
    assert puts_per_second > 2 * 60  # more than twice the arrivals knock on the queue
    assert retried["rejected"] < plain["rejected"] and retried["latency_p99"] > plain["latency_p99"]
    assert retried["arrived"] == (retried["completed"] + retried["rejected"] + retried["in_system"])


def test_a_hiccup_is_a_control_like_any_other_replayed_exactly():
    scenario = Scenario.from_link("rate=60&timeout=0.2&retries=2&abandon=continue&capacity=4&contention=0.1")
    engine = Engine(scenario, event_cap=None)
    engine.run(2.0)
    engine.apply({"action": "hiccup", "factor": 8, "seconds": 1.5})
    engine.run(6.0)
    replayed = Engine.replay(scenario, engine.control_log, 6.0, event_cap=None)
    assert replayed.read_events() == engine.read_events() and replayed.summary() == engine.summary()
