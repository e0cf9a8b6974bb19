"""The load sweep: the curve's shape against theory, determinism, cancel, cache, refusals, B."""

from __future__ import annotations

import asyncio
import json

import pytest

from playground.model import theory
from playground.model.scenario import ScenarioError
from playground.web import sweep
from playground.web.errors import Full, TooManyRequests

#: M/M/4 with an unbounded queue: capacity 4 / 0.05 s = 80 items/s.
MMC = "v=1&arrivals=poisson&rate=60&workers=4&limit=4&service_time=0.05&service_dist=exponential&queue=0"
ARRIVALS = 2000


@pytest.fixture(autouse=True)
def fresh():
    sweep._cache.clear()
    yield
    sweep._cache.clear()


@pytest.fixture(scope="module", autouse=True)
def pool():
    yield
    sweep.shutdown()


def swept(link: str, **options) -> sweep.Sweep:
    async def go():
        return await sweep.start(link, **options).wait()
    return asyncio.run(go())


def at(points: list[dict], fraction: float, capacity: float) -> dict:
    return min(points, key=lambda p: abs(p["rate"] - fraction * capacity))


def test_rates_run_from_10_to_200_percent_of_capacity():
    one = sweep.Sweep(MMC)
    assert one.capacity == 80
    assert one.rates == [8.0 * i for i in range(1, 21)]
    assert one.to_json()["fractions"][0] == pytest.approx(0.1)


def test_the_hockey_stick_on_mmc():
    run = swept(MMC, arrivals=ARRIVALS)
    assert run.status == "done" and run.done == run.total == 20
    points, cap = run.result["a"], run.capacity
    assert all(p["capped"] is None and p["arrived"] == ARRIVALS for p in points)
    # Unbounded queue: nothing is ever lost, however high the load.
    assert all(p["loss"] == 0 for p in points)
    # Below capacity goodput follows the arrival rate; past it, it tops out at capacity.
    for p in points:
        if p["rate"] <= 0.9 * cap:
            assert p["goodput"] == pytest.approx(p["rate"], rel=0.1)
        if p["rate"] >= 1.2 * cap:
            assert p["goodput"] == pytest.approx(cap, rel=0.1)
    # The stick: p99 flat at low load, far higher past capacity.
    assert at(points, 0.5, cap)["p99"] < 2 * at(points, 0.1, cap)["p99"]
    assert at(points, 2.0, cap)["p99"] > 20 * at(points, 0.5, cap)["p99"]
    # The mean latency agrees with M/M/c where it is stable.
    half = at(points, 0.5, cap)
    expected = theory.mmc(half["rate"], 0.05, 4).mean_latency
    assert half["mean"] == pytest.approx(expected, rel=0.1)
    assert half["theory"]["mean_latency"] == pytest.approx(expected)


def test_loss_against_mmck_blocking():
    # webhook-ingestion: reject when full, M/M/4/44.
    point = sweep.run_point("v=1&preset=webhook-ingestion", 80.0, 20_000)
    expected = theory.mmck(80.0, 0.1, 4, 44).blocking
    assert point["loss"] == pytest.approx(expected, abs=0.02)
    assert point["goodput"] == pytest.approx(40, rel=0.05)


def test_same_link_same_numbers():
    first = sweep.run_point(MMC, 72.0, ARRIVALS)
    assert sweep.run_point(MMC, 72.0, ARRIVALS) == first
    assert sweep.run_point(MMC + "&seed=2", 72.0, ARRIVALS) != first
    a = swept(MMC, arrivals=500, points=5)
    sweep._cache.clear()
    b = swept(MMC, arrivals=500, points=5)
    assert not b.cached and a.result == b.result


def test_cache_hit_returns_the_same_result_at_once():
    first = swept(MMC, arrivals=500, points=5)

    async def again(link):
        return sweep.start(link, arrivals=500, points=5)  # not awaited: a hit is done already

    # The same curve whatever the live rate and items: every point sets both.
    second = asyncio.run(again(MMC.replace("rate=60", "rate=75") + "&items=9"))
    assert second.status == "done" and second.cached
    assert second.result is first.result
    other = asyncio.run(again(MMC + "&seed=3"))
    assert not other.cached
    other.cancel()


def test_cancel_stops_early():
    async def go():
        run = sweep.start(MMC, arrivals=ARRIVALS)
        while run.done < 2:
            await asyncio.sleep(0.01)
        run.cancel()
        return await run.wait()

    run = asyncio.run(go())
    assert run.status == "cancelled"
    assert 2 <= run.done < run.total
    assert [p["rate"] for p in run.result["a"]] == run.rates[:run.done]
    assert sweep.Sweep(MMC, arrivals=ARRIVALS).key not in sweep._cache  # a partial curve is not cached


def test_a_queued_sweep_can_be_cancelled_and_a_full_queue_refuses(monkeypatch):
    monkeypatch.setattr(sweep, "MAX_WAITING", 2)

    async def go():
        first = sweep.start(MMC, arrivals=ARRIVALS)
        second = sweep.start(MMC + "&seed=2", arrivals=ARRIVALS)
        with pytest.raises(Full, match="one curve at a time"):
            sweep.start(MMC + "&seed=3", arrivals=ARRIVALS)
        await asyncio.sleep(0)  # the first takes its turn; the second waits
        assert (first.status, second.status) == ("running", "queued")
        second.cancel()
        await second.wait()
        first.cancel()
        await first.wait()
        third = sweep.start(MMC + "&seed=4", arrivals=100, points=2)  # room again
        await third.wait()
        return first, second, third

    first, second, third = asyncio.run(go())
    assert first.status == second.status == "cancelled" and second.done == 0
    assert third.status == "done"


def test_starts_cancelled_in_the_same_loop_turn_do_not_leak_the_queue():
    # Two {"sweep": "start"} controls in one turn: the second cancels the first before its task
    # ever ran. That sweep used to stay counted as waiting; after 4 every start was refused.
    async def go():
        for i in range(50):
            sweep.start(MMC + f"&seed={i + 10}", arrivals=ARRIVALS).cancel()
        assert sweep._gate().waiting == 0
        await asyncio.sleep(0)  # the cancelled tasks end in this turn...
        await asyncio.sleep(0)  # ... and their done-callbacks, which count them out, run in the next
        assert not sweep._gate().active
        return await sweep.start(MMC + "&seed=5", arrivals=100, points=2).wait()

    normal = asyncio.run(go())
    assert normal.status == "done" and normal.done == 2


def test_a_sweep_cancelled_before_it_ran_says_so():
    async def go():
        one = sweep.start(MMC, arrivals=ARRIVALS)
        one.cancel()
        return await one.wait()

    assert asyncio.run(go()).status == "cancelled"


def test_one_address_may_have_one_sweep_queued_or_running():
    async def go():
        mine = sweep.start(MMC, arrivals=ARRIVALS, client="192.0.2.1")
        with pytest.raises(TooManyRequests, match=r"the most one address may \(1\)"):
            sweep.start(MMC + "&seed=2", arrivals=ARRIVALS, client="192.0.2.1")
        theirs = sweep.start(MMC + "&seed=3", arrivals=ARRIVALS, client="198.51.100.7")
        assert theirs.status == "queued"
        mine.cancel()  # a cancelled sweep gives its place back at once, even while its point finishes
        again = sweep.start(MMC + "&seed=4", arrivals=ARRIVALS, client="192.0.2.1")
        for one in (theirs, again):
            one.cancel()
        for one in (mine, theirs, again):
            await one.wait()
        return not sweep._gate().active

    assert asyncio.run(go())


@pytest.mark.parametrize("link, words", [
    ("v=1&preset=handbook", "arrivals=asap"),
    ("v=1&producer=closed&arrivals=bursts", "closed producers with arrivals=bursts ignore it"),
    ("v=1&preset=bursty-pipeline", "The bursts alone bring 53.3 items/s (67% of the capacity"),
    ("v=1&workers=1&limit=1&service_time=30", "below the lowest rate"),
    ("v=1&workers=256&limit=256&service_time=0.01", "above the highest rate"),
])
def test_refuses_what_rate_does_not_drive(link, words):
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(")):
        sweep.Sweep(link)


def test_open_bursts_count_on_the_axis():
    # 20 items every 10 s on top of Poisson arrivals: 2 items/s whatever the rate.
    link = "v=1&arrivals=bursts&burst=20&period=10&queue=0"
    point = sweep.run_point(link, 20.0, 1000)
    assert point["arrived"] == 1000
    # About 50 s of arrivals; the run ends when the bursts loop wakes to find no items left.
    assert 1000 / 20 * 0.85 < point["sim_time"] <= 1000 / 20 * 1.15 + 10
    assert sweep.live_rate(sweep.Sweep(link).a) == 22.0


def test_closed_producers_are_swept_and_wait_past_capacity():
    run = swept("v=1&preset=background-jobs", arrivals=1000)
    points, cap = run.result["a"], run.capacity
    assert all(p["loss"] == 0 for p in points)  # producers wait at put: nothing is refused
    top = at(points, 2.0, cap)
    assert top["goodput"] == pytest.approx(cap, rel=0.1)
    assert top["p99"] < 2.0  # the queue of 10 bounds the wait: backpressure, not a growing queue


def test_b_is_swept_on_the_same_rates():
    run = swept("v=1&preset=webhook-ingestion&b.policy=block&b.queue=0", arrivals=ARRIVALS, points=5)
    assert run.status == "done" and run.done == run.total == 10
    a, b = run.result["a"], run.result["b"]
    assert [p["rate"] for p in a] == [p["rate"] for p in b] == run.rates
    # At 200 %: A rejects about half and stays fast; B keeps everything and its p99 climbs.
    assert a[-1]["loss"] > 0.3 and b[-1]["loss"] == 0
    assert b[-1]["p99"] > 5 * a[-1]["p99"]
    assert run.to_json()["capacity_b"] == run.capacity


def test_a_runaway_point_is_capped_not_hung(monkeypatch):
    monkeypatch.setattr(sweep, "WORK_PER_ARRIVAL", 2)
    monkeypatch.setattr(sweep, "CHECK_EVERY", 500)
    point = sweep.run_point("v=1&preset=retry-storm", 200.0, 1000)
    assert point["capped"].startswith("stopped after 2 callbacks per arrival")
    assert point["arrived"] < 1000 and 0 <= point["loss"] < 1
    assert sweep.run_point("v=1&preset=retry-storm", 200.0, 1000) == point


def test_to_json_is_json():
    run = swept(MMC, arrivals=300, points=3)
    frame = run.to_json(live_rate=60)
    json.dumps(frame, allow_nan=False)
    assert frame["status"] == "done" and (frame["done"], frame["total"]) == (3, 3)
    assert frame["live"] == {"rate": 60, "fraction": 0.75}
    assert frame["b"] is None and len(frame["a"]) == 3


def test_bad_arrivals_and_points_are_refused():
    with pytest.raises(ScenarioError, match="arrivals must be an integer from 100 to 100000"):
        sweep.Sweep(MMC, arrivals=10)
    with pytest.raises(ScenarioError, match="points must be"):
        sweep.Sweep(MMC, points=1)


# The session's sweep, over HTTP ----------------------------------------------------------------


def test_a_session_sweeps_its_scenario_and_serves_the_curve(make_client):
    import time

    from app_client import auth, control, create
    # No page watches this session; a sweep of 40 points can outlast the 30 s grace on a busy machine.
    client = make_client(grace=300)
    session = create(client, {"link": "v=1&rate=30&workers=2&limit=2&service_time=0.05&queue=5&policy=reject"
                                      "&b.policy=drop-oldest"})
    base = session["control"].replace("/control", "")
    assert client.get(base + "/sweep").status_code == 404
    control(client, session, {"sweep": "start"})
    deadline = time.monotonic() + 120
    while (view := client.get(base + "/sweep").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, view["status"]
        time.sleep(0.2)
    assert view["status"] == "done" and view["current"] and view["total"] == 40
    assert len(view["a"]) == len(view["b"]) == 20
    assert view["live"]["fraction"] == 30 / (2 / 0.05)
    # The knee: B (drop-oldest) and A (reject) both shed load past capacity.
    assert view["a"][-1]["loss"] > 0.3 and view["a"][0]["loss"] == 0
    control(client, session, {"set": {"queue": 9}})
    assert client.get(base + "/sweep").json()["current"] is False  # the curve of another scenario now
    refused = client.post(session["control"], json={"sweep": "start", "speed": 2}, headers=auth(session))
    assert refused.status_code == 422 and refused.json()["field"] == "sweep"


def test_a_session_of_asap_arrivals_is_told_why_it_cannot_sweep(make_client):
    from app_client import auth, create
    client = make_client()
    session = create(client, {"link": "v=1&preset=handbook"})
    refused = client.post(session["control"], json={"sweep": "start"}, headers=auth(session))
    assert refused.status_code == 422 and "asap" in refused.json()["error"]
