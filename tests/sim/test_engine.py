"""The engine (playground.sim.engine): invariants over random runs, and live controls.

Hypothesis draws valid scenarios (modest rates so each example is fast) and
random control logs; every step checks conservation of items, and runs are
checked for determinism, replay and Little's law. Then one test per live
control, memory crashes, snapshots and metrics windows.
"""

import json
import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.model.scenario import FIELDS, Scenario, ScenarioError
from playground.sim import trace
from playground.sim.engine import QUEUE_DISPLAY_CAP, Engine

HYPOTHESIS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LEFT = ("completed", "rejected", "dropped", "put_timeouts", "stale", "timeouts", "lost")


# ---------------------------------------------------------------- helpers


def held_items(engine):
    """Ids of the items the running service holds: queued, with a worker, or blocked in put."""
    service = engine.service
    ids = {item.id for item in service.queue.items if item is not None}
    ids |= {w.item.id for w in service.workers if w.item is not None}
    ids |= {item.id for item in service.blocked}
    ids |= {p.item.id for p in service.producers if p.item is not None}
    return ids


def check_conservation(engine):
    totals = engine.totals()
    assert totals["arrived"] == sum(totals[k] for k in LEFT) + totals["in_system"], totals
    assert totals["in_system"] >= 0
    if engine.restart_at is None:
        assert totals["in_system"] == len(held_items(engine))
        snap = engine.snapshot()
        if not engine.service.shutting_down:  # no shutdown sentinels in the queue
            shown = (snap["queue"]["size"] + snap["blocked"]["count"]
                     + sum(1 for w in snap["workers"] if w["item"] is not None))
            assert totals["in_system"] == shown
            blocked_ids = {i for i, _ in snap["blocked"]["items"]}
            if snap["blocked"]["count"] <= len(snap["blocked"]["items"]):
                assert {p["item"] for p in snap["producers"] if p["item"] is not None} <= blocked_ids
    else:
        assert totals["in_system"] == 0  # a crash loses everything


def field_values():
    """Strategies for every settable field, within modest ranges."""
    pos = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    return {
        "arrivals": st.sampled_from(FIELDS["arrivals"].choices),
        "rate": pos(0.5, 300),
        "burst": st.integers(1, 40),
        "period": pos(0.2, 3),
        "producer": st.sampled_from(FIELDS["producer"].choices),
        "producers": st.integers(1, 6),
        "items": st.one_of(st.just(0), st.integers(1, 300)),
        "queue": st.integers(0, 40),
        "policy": st.sampled_from(FIELDS["policy"].choices),
        "put_timeout": pos(0.01, 2),
        "max_age": st.one_of(st.just(0.0), pos(0.05, 2)),
        "workers": st.integers(1, 16),
        "limit": st.integers(0, 16),
        "service_time": pos(0.001, 0.5),
        "service_dist": st.sampled_from(FIELDS["service_dist"].choices),
        "timeout": st.one_of(st.just(0.0), pos(0.01, 1)),
        "capacity": st.integers(0, 16),
        "memory": st.one_of(st.just(0), st.integers(1, 300)),
        "restart": pos(0.1, 2),
    }


@st.composite
def scenarios(draw, **fixed):
    values = {key: draw(strategy) for key, strategy in field_values().items()}
    values["seed"] = draw(st.integers(0, 2**32 - 1))
    values.update(fixed)
    if values["arrivals"] == "asap":
        values["producer"] = "closed"
        if values["policy"] not in ("block", "timeout") or values["queue"] == 0:
            values["policy"], values["queue"] = "block", max(1, values["queue"])
    return Scenario(**values)


@st.composite
def control_logs(draw, until):
    strategies = field_values()
    times = sorted(draw(st.lists(st.floats(0, until, allow_nan=False), max_size=8)))
    log = []
    for t in times:
        kind = draw(st.sampled_from(["set", "set", "set", "burst", "drain"]))
        if kind == "set":
            keys = draw(st.lists(st.sampled_from(sorted(strategies)), min_size=1, max_size=3, unique=True))
            log.append((t, {"set": {key: draw(strategies[key]) for key in keys}}))
        elif kind == "burst":
            log.append((t, {"action": "burst", "n": draw(st.integers(1, 50))}))
        else:
            log.append((t, {"action": "drain"}))
    return log


def drive(scenario, controls, until, steps=10, check=True):
    """Run ``scenario`` to ``until`` applying ``controls`` (skipping invalid ones
    and ones that would make it spin), checking conservation after every step.
    Returns (engine, all events)."""
    engine = Engine(scenario, event_cap=None)
    events = []
    marks = sorted({min(until, until * i / steps) for i in range(1, steps)} | {until}
                   | {t for t, _ in controls if t <= until})
    pending = list(controls)
    for mark in marks:
        engine.advance(mark)
        events += engine.read_events()
        if check:
            check_conservation(engine)
        while pending and pending[0][0] <= mark:
            _, control = pending.pop(0)
            before = (engine.scenario, list(engine.control_log))
            try:
                engine.apply(control)
            except ScenarioError:
                assert (engine.scenario, engine.control_log) == before
            if check:
                check_conservation(engine)
    engine.advance(until)
    events += engine.read_events()
    if check:
        check_conservation(engine)
    return engine, events


# ---------------------------------------------------------------- random runs


@HYPOTHESIS
@given(data=st.data())
def test_conservation_determinism_and_replay(data):
    until = data.draw(st.floats(0.5, 5))
    scenario = data.draw(scenarios())
    controls = data.draw(control_logs(until))
    engine, events = drive(scenario, controls, until)
    twin, twin_events = drive(scenario, controls, until, check=False)
    assert twin_events == events
    assert twin.summary() == engine.summary()
    replayed = Engine.replay(engine.initial, engine.control_log, until, event_cap=None)
    assert replayed.read_events() == events
    assert replayed.summary() == engine.summary()
    assert replayed.scenario == engine.scenario


@HYPOTHESIS
@given(data=st.data())
def test_littles_law_on_finished_runs(data):
    scenario = data.draw(scenarios(items=data.draw(st.integers(1, 150)),
                                   service_time=data.draw(st.floats(0.001, 0.05)),
                                   rate=data.draw(st.floats(5, 300)),
                                   period=data.draw(st.floats(0.2, 1))))
    controls = [(t, c) for t, c in data.draw(control_logs(2.0))
                if "items" not in c.get("set", {})]  # keep the run finite
    engine, _ = drive(scenario, controls, 2.0)
    engine.run(until=2000)
    assert engine.finished
    check_conservation(engine)
    summary = engine.summary()
    assert summary["in_system"] == 0
    lhs = summary["mean_in_system"]
    if summary["arrived"]:
        rhs = summary["arrival_rate"] * summary["mean_time_in_system"]
        assert lhs == pytest.approx(rhs, rel=1e-6, abs=1e-12)
    else:  # drained before anything arrived
        assert lhs == 0 and summary["mean_time_in_system"] is None


@HYPOTHESIS
@given(data=st.data())
def test_block_policy_serves_items_in_put_order(data):
    scenario = data.draw(scenarios(policy="block", workers=1, limit=data.draw(st.sampled_from([0, 1, 3])),
                                   max_age=0, timeout=0, memory=0))
    resizes = [(t, {"set": {"queue": q}}) for t, q in data.draw(
        st.lists(st.tuples(st.floats(0, 3), st.integers(0, 30)), max_size=4))]
    bursts = [(t, {"action": "burst", "n": n}) for t, n in data.draw(
        st.lists(st.tuples(st.floats(0, 3), st.integers(1, 30)), max_size=2))]
    _, events = drive(scenario, sorted(resizes + bursts, key=lambda c: c[0]), 3.0, check=False)
    enqueued = [e[2] for e in events if e[1] == trace.ENQUEUED]
    handled = [e[2] for e in events if e[1] == trace.HANDLED]
    assert handled == enqueued[:len(handled)]
    assert not any(e[1] in (trace.REJECTED, trace.DROPPED, trace.PUT_TIMEOUT) for e in events)


# ---------------------------------------------------------------- live changes


def link(text, **options):
    return Engine(Scenario.from_link(text), **options)


def kinds(events, kind):
    return [e for e in events if e[1] == kind]


FULL = "rate=100&arrivals=steady&queue=20&policy=block&workers=1&limit=1&service_time=1&service_dist=constant"


def test_lowering_queue_evicts_nothing_and_new_puts_wait():
    engine = link(FULL)
    engine.advance(2.0)
    engine.read_events()
    assert engine.snapshot()["queue"]["size"] == 20
    blocked = engine.snapshot()["blocked"]["count"]
    assert blocked > 0
    engine.apply({"set": {"queue": 5}})
    engine.advance(2.5)
    events = engine.read_events()
    snap = engine.snapshot()
    # Nothing evicted: only the worker took items out (one per second).
    taken = len(kinds(events, trace.HANDLED))
    assert taken == 1
    assert snap["queue"]["size"] == 20 - taken and snap["queue"]["maxsize"] == 5
    assert not kinds(events, trace.DROPPED) and not kinds(events, trace.ENQUEUED)
    assert snap["blocked"]["count"] == blocked + len(kinds(events, trace.PRODUCE))
    engine.advance(30)  # the queue drains below 5 before anyone may put again
    for _, _, _, qsize_after in kinds(engine.read_events(), trace.ENQUEUED):
        assert qsize_after <= 5
    check_conservation(engine)


def test_raising_queue_wakes_blocked_putters_at_the_same_instant():
    engine = link(FULL)
    engine.advance(2.0)
    engine.read_events()
    blocked = engine.snapshot()["blocked"]["count"]
    assert blocked >= 10
    now = engine.now
    engine.apply({"set": {"queue": 30}})
    engine.advance(now)
    enqueued = kinds(engine.read_events(), trace.ENQUEUED)
    assert [e[0] for e in enqueued] == [now] * 10
    assert [e[3] for e in enqueued] == list(range(21, 31))
    snap = engine.snapshot()
    assert snap["queue"]["size"] == 30 and snap["blocked"]["count"] == blocked - 10
    check_conservation(engine)


def test_raising_limit_lets_waiting_workers_proceed_at_once():
    engine = link("rate=100&arrivals=steady&queue=50&workers=4&limit=1&service_time=1&service_dist=constant")
    engine.advance(0.5)
    states = sorted(w["state"] for w in engine.snapshot()["workers"])
    assert states == ["calling", "permit", "permit", "permit"]
    engine.apply({"set": {"limit": 3}})
    engine.advance(engine.now)
    snap = engine.snapshot()
    assert sorted(w["state"] for w in snap["workers"]) == ["calling", "calling", "calling", "permit"]
    assert snap["semaphore"]["held"] == 3 and snap["semaphore"]["waiting"] == 1
    assert snap["downstream"]["in_flight"] == 3
    check_conservation(engine)


def test_lowering_workers_retires_idle_ones_and_raising_adds_workers():
    engine = link("rate=0.5&arrivals=steady&workers=4&limit=0&service_time=0.01&service_dist=constant")
    engine.advance(1.0)
    engine.read_events()
    engine.apply({"set": {"workers": 2}})
    engine.advance(engine.now)
    events = engine.read_events()
    assert sorted(trace.describe(e) for e in kinds(events, trace.SHUTDOWN)) == [
        "worker-2 shutdown", "worker-3 shutdown"]
    assert all(e[0] == 1.0 for e in events)
    assert [w["index"] for w in engine.snapshot()["workers"]] == [0, 1]
    engine.apply({"set": {"workers": 5}})
    engine.advance(1.5)
    snap = engine.snapshot()
    assert [w["index"] for w in snap["workers"]] == [0, 1, 2, 3, 4]
    assert all(w["state"] == "idle" and not w["retiring"] for w in snap["workers"])
    engine.advance(10)  # the new workers take work
    workers = {e[3] for e in kinds(engine.read_events(), trace.HANDLED)}
    assert workers and workers <= {0, 1, 2, 3, 4}
    check_conservation(engine)


def test_lowering_workers_lets_busy_ones_finish_their_item_first():
    engine = link("rate=100&arrivals=steady&queue=50&workers=3&limit=0&service_time=1&service_dist=constant")
    engine.advance(0.5)
    engine.read_events()
    busy = {w["index"]: w["item"] for w in engine.snapshot()["workers"]}
    engine.apply({"set": {"workers": 1}})
    engine.advance(2.0)
    events = engine.read_events()
    for index in (1, 2):
        done = [e for e in events if e[1] == trace.HANDLED and e[3] == index]
        assert [e[2] for e in done] == [busy[index]]
        assert (done[0][0], trace.SHUTDOWN, index, None) in events
    assert [w["index"] for w in engine.snapshot()["workers"]] == [0]


def test_workers_raised_then_lowered_at_one_instant_shut_down_cleanly():
    engine = link("rate=50&items=40&workers=4&service_time=0.5")
    engine.advance(1.0)
    engine.apply({"set": {"workers": 6}})
    engine.apply({"set": {"workers": 4}})
    engine.run(until=100)
    assert engine.finished
    shutdowns = sorted(e[2] for e in kinds(engine.read_events(), trace.SHUTDOWN))
    assert shutdowns == [0, 1, 2, 3, 4, 5]
    assert engine.snapshot()["workers"] == []


def test_controls_at_one_instant_without_advance_replay_exactly():
    scenario = Scenario.from_link("rate=1&arrivals=steady&queue=0&workers=1&service_time=0.5")
    engine = Engine(scenario)
    engine.advance(0.5)
    engine.apply({"action": "burst", "n": 1})
    engine.apply({"action": "burst", "n": 1})  # same instant, no advance between
    engine.advance(3.0)
    replayed = Engine.replay(scenario, engine.control_log, 3.0)
    assert replayed.read_events() == engine.read_events()


def test_control_before_first_advance_replays_exactly():
    scenario = Scenario.from_link("rate=50&items=40&workers=4&service_time=0.5")
    engine = Engine(scenario)
    engine.apply({"set": {"workers": 2}})
    engine.advance(0.0)
    assert len(engine.snapshot()["workers"]) == 2
    engine.advance(5.0)
    replayed = Engine.replay(scenario, engine.control_log, 5.0)
    assert replayed.read_events() == engine.read_events()


def test_switching_block_to_reject_rejects_new_arrivals_while_blocked_putters_wait():
    engine = link(FULL, event_cap=None)
    engine.advance(1.0)
    engine.read_events()
    blocked = [i for i, _ in engine.snapshot()["blocked"]["items"]]
    blocked_count = engine.snapshot()["blocked"]["count"]
    assert len(blocked) > 5
    engine.apply({"set": {"policy": "reject"}})
    engine.advance(1.2)
    events = engine.read_events()
    produced = [e[2] for e in kinds(events, trace.PRODUCE)]
    assert produced and [e[2] for e in kinds(events, trace.REJECTED)] == produced
    got_in = [e[2] for e in kinds(events, trace.ENQUEUED)]
    assert got_in == blocked[:1]  # the worker freed one slot at 1.01: the oldest putter took it
    still = engine.snapshot()["blocked"]
    assert still["count"] == blocked_count - 1  # nobody else got in, nobody gave up
    assert [i for i, _ in still["items"]][:len(blocked) - 1] == blocked[1:]
    engine.advance(blocked_count + 25.0)  # one slot a second: long enough for all of them
    events += engine.read_events()
    enqueued = [e[2] for e in kinds(events, trace.ENQUEUED)]
    assert enqueued[:len(blocked)] == blocked  # they waited, and got in, in order
    assert engine.snapshot()["blocked"]["count"] == 0
    assert not set(blocked) & {e[2] for e in kinds(events, trace.REJECTED)}
    check_conservation(engine)


def test_burst_creates_n_arrivals_at_the_current_instant():
    engine = link("rate=1&arrivals=steady&queue=100&workers=2&service_time=0.1")
    engine.advance(2.5)
    engine.read_events()
    arrived = engine.totals()["arrived"]
    engine.apply({"action": "burst", "n": 50})
    engine.advance(2.5)
    produced = kinds(engine.read_events(), trace.PRODUCE)
    assert len(produced) == 50 and {e[0] for e in produced} == {2.5}
    assert [e[2] for e in produced] == list(range(arrived, arrived + 50))
    assert engine.totals()["arrived"] == arrived + 50
    check_conservation(engine)


def test_drain_stops_arrivals_empties_queue_and_shuts_workers_down():
    engine = link("rate=80&queue=30&workers=3&limit=2&service_time=0.1")
    engine.advance(3.0)
    engine.read_events()
    assert engine.snapshot()["queue"]["size"] > 0
    engine.apply({"action": "drain"})
    assert engine.snapshot()["draining"]
    engine.run(until=200)
    events = engine.read_events()
    assert engine.finished and engine.summary()["finished"]
    assert not any(e[0] > 3.0 for e in kinds(events, trace.PRODUCE))
    assert sorted(e[2] for e in kinds(events, trace.SHUTDOWN)) == [0, 1, 2]
    snap = engine.snapshot()
    assert snap["queue"]["size"] == 0 and snap["workers"] == []
    totals = engine.totals()
    assert totals["in_system"] == 0
    check_conservation(engine)
    with pytest.raises(ScenarioError):
        engine.apply({"action": "burst", "n": 5})


def test_reset_starts_a_fresh_run_identical_to_a_new_engine():
    scenario = Scenario.from_link("rate=40&queue=10&workers=2&service_time=0.2&seed=7")
    engine = Engine(scenario)
    engine.advance(3.0)
    engine.apply({"action": "burst", "n": 20})
    engine.advance(4.0)
    engine.read_events()
    engine.apply({"action": "reset"})
    assert engine.now == 0.0 and engine.control_log == [] and engine.totals()["arrived"] == 0
    fresh = Engine(scenario)
    engine.advance(5.0)
    fresh.advance(5.0)
    assert engine.read_events() == fresh.read_events()
    assert engine.summary() == fresh.summary()
    assert engine.snapshot() == fresh.snapshot()


@pytest.mark.parametrize("bad", [
    {"set": {"queue": -1}},
    {"action": "explode"},
    {"action": "burst", "n": 0},
    {"set": {"seed": 3}},
    {"set": {"arrivals": "asap"}},  # open producers cannot be asap
    {"set": {}},
    "drain",
])
def test_invalid_controls_raise_and_change_nothing(bad):
    scenario = Scenario.from_link("rate=60&queue=10&workers=2&service_time=0.1")
    engine, twin = Engine(scenario), Engine(scenario)
    for e in (engine, twin):
        e.advance(1.0)
        e.apply({"set": {"rate": 30}})
    before = (engine.scenario, list(engine.control_log))
    with pytest.raises(ScenarioError):
        engine.apply(bad)
    assert (engine.scenario, engine.control_log) == before
    for e in (engine, twin):
        e.advance(4.0)
    assert engine.read_events() == twin.read_events()
    assert engine.summary() == twin.summary()


# ---------------------------------------------------------------- memory


def test_a_request_refused_by_a_full_queue_never_held_memory():
    # put_nowait raising QueueFull refuses the request at once: it is never counted as held,
    # so it neither sets the peak nor crashes a service that holds exactly its limit.
    scenario = Scenario.from_link("policy=reject&queue=9&workers=1&limit=0&rate=100&service_time=1"
                                  "&memory=10&items=300")
    engine = Engine(scenario)
    engine.run(None)
    summary = engine.summary()
    assert summary["rejected"] > 200 and summary["lost"] == 0 and engine.crashes == 0
    assert summary["peak_in_system"] == 10  # 9 queued + 1 with the worker, never 11
    # With client retries the refused request stays pending (it backs off), and is held.
    retrying = Engine(Scenario.from_link(scenario.to_link() + "&client_retries=2"))
    retrying.run(30)
    assert retrying.crashes > 0


def test_out_of_memory_crash_loses_everything_then_restarts():
    engine = link("preset=unbounded-oom")
    scenario = engine.scenario
    crash = None
    while crash is None and engine.now < 60:
        engine.advance(engine.now + 0.5)
        check_conservation(engine)
        crashes = kinds(engine.read_events(), trace.CRASH)
        crash = crashes[0] if crashes else None
    assert crash is not None
    assert trace.describe(crash) == f"out of memory: {scenario.memory + 1} items lost"
    totals = engine.totals()
    assert totals["lost"] == scenario.memory + 1 and totals["in_system"] == 0
    assert engine.restart_at == crash[0] + scenario.restart
    engine.advance(crash[0] + scenario.restart - 1e-9)
    assert kinds(engine.read_events(), trace.RESTART) == []
    check_conservation(engine)
    engine.advance(crash[0] + scenario.restart + 5)
    events = engine.read_events()
    assert kinds(events, trace.RESTART) == [(crash[0] + scenario.restart, trace.RESTART, None, None)]
    assert kinds(events, trace.HANDLED) and engine.restart_at is None
    assert engine.totals()["arrived"] > totals["arrived"]
    check_conservation(engine)


def test_snapshot_while_down_shows_an_empty_service():
    engine = link("preset=unbounded-oom")
    engine.run(until=60)
    crash = kinds(engine.read_events(), trace.CRASH)[0]
    engine = link("preset=unbounded-oom")
    engine.advance(crash[0] + 1)
    snap = engine.snapshot()
    assert snap["down_until"] is not None and snap["memory"]["held"] == 0
    assert snap["queue"]["size"] == 0
    assert snap["semaphore"]["held"] == 0


# ---------------------------------------------------------------- snapshot, windows


def test_snapshot_is_json_and_bounded():
    engine = link("queue=0&rate=2000&service_time=60&workers=1")
    engine.advance(20)
    snap = engine.snapshot()
    text = json.dumps(snap)
    queue = snap["queue"]
    assert queue["size"] > 30000
    assert len(queue["items"]) == QUEUE_DISPLAY_CAP <= 64
    assert len(queue["items"]) + queue["more"] == queue["size"]
    assert len(text) < 10_000
    engine = link("rate=300&queue=5&policy=block&workers=1&service_time=60")
    engine.advance(10)
    snap = engine.snapshot()
    assert snap["blocked"]["count"] > 1000 and len(snap["blocked"]["items"]) <= 64
    assert len(json.dumps(snap)) < 10_000


@HYPOTHESIS
@given(data=st.data())
def test_snapshot_json_serializable_on_random_runs(data):
    until = data.draw(st.floats(0.5, 3))
    engine, _ = drive(data.draw(scenarios()), data.draw(control_logs(until)), until, steps=3, check=False)
    snap = engine.snapshot()
    assert json.loads(json.dumps(snap)) == snap


def test_metrics_windows():
    engine = link("rate=50&queue=20&workers=4&service_time=0.1", window=0.5)
    engine.advance(10)
    windows = [w.to_json() for w in engine.read_windows()]
    assert [w["index"] for w in windows] == list(range(20))
    assert [(w["start"], w["end"]) for w in windows] == [(i * 0.5, i * 0.5 + 0.5) for i in range(20)]
    events = engine.read_events()
    before_10 = [e for e in kinds(events, trace.PRODUCE) if e[0] < 10]
    assert sum(w["arrived"] for w in windows) == len(before_10) > 0
    completed_before_10 = [e for e in kinds(events, trace.HANDLED) if e[0] < 10]
    assert sum(w["outcomes"]["completed"] for w in windows) == len(completed_before_10)
    for w in windows:
        lat = w["latency"]
        if lat["p50"] is not None:
            assert lat["p50"] <= lat["p95"] <= lat["p99"]
    assert engine.read_windows() == []  # read once
    engine.advance(10.75)
    assert [w.index for w in engine.read_windows()] == [20]


class _Spinning(Exception):
    pass


@contextmanager
def wall_clock_limit(seconds):
    def expire(signum, frame):
        raise _Spinning(f"still running after {seconds} s of wall time")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("text", [
    "producer=closed&arrivals=asap&policy=reject&queue=5",
    "producer=closed&arrivals=asap&policy=drop-oldest&queue=5",
    "producer=closed&arrivals=asap&queue=0",
])
def test_asap_producers_that_never_wait_are_refused(text):
    """They would produce forever at one instant (the asyncio program too), so the link is refused."""
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_link(text)
    assert caught.value.field == "arrivals"


def test_asap_producers_that_wait_advance_time():
    engine = Engine(Scenario.from_link("producer=closed&arrivals=asap&policy=timeout&queue=5&put_timeout=0.1"))
    with wall_clock_limit(2.0):
        engine.advance(5.0)
    assert engine.now == 5.0 and engine.totals()["put_timeouts"] > 0


def test_drain_while_arrivals_wait_for_their_requests_still_finishes():
    """Found by hypothesis: drain used to cancel an arrivals loop that had already stopped and
    was waiting for its blocked requests; main awaited that task and died with it."""
    engine = Engine(Scenario.from_link("rate=100&items=30&queue=2&workers=1&limit=1&service_time=0.1"))
    engine.advance(0.6)  # every item produced; most requests blocked in put
    assert engine.issued == 30 and engine.service.blocked
    engine.apply({"action": "drain"})
    engine.run(until=100)
    assert engine.finished
    assert engine.totals()["completed"] == 30


# ---------------------------------------------------------------- work budgets


@HYPOTHESIS
@given(data=st.data())
def test_a_work_budget_never_changes_the_run(data):
    """Advancing in small budgets of callbacks (stopping inside instants) gives
    the same events and summary as one unbudgeted advance; a control waits for
    a settled instant, as a session does."""
    until = data.draw(st.floats(0.5, 4))
    scenario = data.draw(scenarios())
    controls = data.draw(control_logs(until))
    reference, reference_events = drive(scenario, controls, until, check=False)

    engine = Engine(scenario, event_cap=None)
    events = []
    budgets = data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=5))
    pending = list(controls)
    step = 0
    for mark in [t for t, _ in controls] + [until]:
        while not engine.advance(mark, budgets[step % len(budgets)]):
            step += 1
            events += engine.read_events()
            assert engine.now <= mark
        assert engine.settled
        events += engine.read_events()
        while pending and pending[0][0] <= mark:
            _, control = pending.pop(0)
            try:
                engine.apply(control)
            except ScenarioError:
                pass
    events += engine.read_events()
    assert events == reference_events
    assert engine.summary() == reference.summary()
    assert engine.control_log == reference.control_log


def test_windows_closed_while_down_carry_an_empty_service():
    # While the service is down after an out-of-memory crash, windows must not carry the dead
    # service's queue and calls in flight (memory is 0 then, and so is what the service holds).
    engine = link("preset=unbounded-oom")
    scenario = engine.scenario
    crash = None
    while engine.now < 40:
        engine.advance(engine.now + 0.25)
        crashes = kinds(engine.read_events(), trace.CRASH)
        if crashes and crash is None:
            crash = crashes[0]
    assert crash is not None
    closed = list(engine.metrics.windows)
    down = [w for w in closed if crash[0] < w.end <= crash[0] + scenario.restart]
    assert len(down) >= 4, [w.end for w in closed]
    for w in down:
        assert (w.queue, w.in_flight, w.memory) == (0, 0, 0), (w.end, w.queue, w.in_flight, w.memory)
    # The window that spans the crash: its end is after the crash, so its levels are the empty
    # service's; its peak still shows what was held before.
    spanning = [w for w in closed if w.start < crash[0] < w.end][0]
    assert spanning.queue == 0 and spanning.in_flight == 0 and spanning.memory == 0
    assert spanning.memory_peak > scenario.memory
    # The window before the crash carried the full queue.
    before = [w for w in closed if w.end <= crash[0]][-1]
    assert before.queue > 400 and before.memory > 400


def test_an_item_brings_the_same_work_whatever_the_policy_does_to_others():
    # Common random numbers: a call's time comes from its item's own luck, not from a stream
    # that other items' calls advance. Two services fed the same arrivals but refusing or
    # dropping different items give every item they both serve the same call time.
    def call_times(link):
        engine = Engine(Scenario.from_link(link), event_cap=0)
        seen = {}
        completed = engine.completed

        def record(item):
            seen[item.id] = engine.loop.now - item.started
            completed(item)

        engine.completed = record
        engine.run(None)
        return seen

    base = "rate=60&queue=5&workers=2&limit=2&service_time=0.05&items=3000&seed=4"
    rejecting, dropping = call_times(base + "&policy=reject"), call_times(base + "&policy=drop-oldest")
    both = set(rejecting) & set(dropping)
    assert len(both) > 1000 and set(rejecting) != set(dropping)  # they served different items...
    # ...and the ones both served took as long (to the rounding of clock readings)
    assert all(abs(rejecting[i] - dropping[i]) < 1e-9 for i in both)
    slower = call_times(base.replace("service_time=0.05", "service_time=0.1") + "&policy=reject")
    assert all(abs(slower[i] - 2 * rejecting[i]) < 1e-9 for i in set(slower) & set(rejecting))
