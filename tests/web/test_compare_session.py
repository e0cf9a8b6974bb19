"""A session comparing two services: both engines on one clock, one frame carrying both, and the
controls that start, fork, swap and stop a comparison or edit A, B or both."""

from __future__ import annotations

import anyio
import pytest

from playground.model.compare import Comparison
from playground.model.script import RunLink
from playground.model.scenario import Scenario
from playground.web import frames
from playground.web.errors import Invalid
from playground.web.sessions import Cursor, Session
from playground.web.settings import Settings
from app_client import auth, control, create

#: Overloaded enough that a block queue and a reject queue part ways within seconds.
LINK = "v=1&rate=60&queue=10&workers=2&limit=2&service_time=0.05"  # Poisson arrivals, exponential calls


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def comparing(link: str = LINK + "&b.policy=reject") -> tuple[Session, Clock]:
    comparison = Comparison.from_link(link)
    clock = Clock()
    session = Session("s", "t", "c", comparison.a, Settings(), now=0.0, b=comparison.b)
    session.watched = True
    return session, clock


def run_for(session: Session, clock: Clock, seconds: float, frame: float = 0.05) -> None:
    for _ in range(round(seconds / frame)):
        clock.now += frame
        session.catch_up(clock.now)


def act(session: Session, clock: Clock, body: dict) -> dict:
    return anyio.run(session.control, body, clock)


def totals(session: Session, side: str) -> dict:
    return getattr(session, side).engine.totals()


def test_both_services_run_on_one_clock_and_one_frame_carries_both():
    session, clock = comparing()
    cursor = Cursor()
    first = session.frame(cursor)
    assert first["full"] and first["compare"]["differs"] == ["policy"]
    assert first["compare"]["label"] == "A: policy block · B: policy reject"
    run_for(session, clock, 5)
    frame = session.frame(cursor)
    assert frame["t"] == frame["b"]["t"] > 4.9
    a, b = frame["state"]["totals"], frame["b"]["state"]["totals"]
    # Same arrivals (common random numbers); the block queue loses nothing, the reject queue does.
    assert a["arrived"] == b["arrived"] > 250
    assert a["rejected"] == 0 < b["rejected"]
    assert frame["outcomes"]["a"]["rejected"] == 0 < frame["outcomes"]["b"]["rejected"]
    assert frame["b"]["windows"] and frame["b"]["events"]


def test_the_outcomes_table_says_what_the_summary_says():
    session, clock = comparing()
    run_for(session, clock, 30)
    for side in session.sides:
        summary = side.engine.summary()
        row = side.outcomes(wall=1e9)
        figures = {key: value for key, value in row.items() if not key.endswith("_ci")}
        assert figures == {key: frames._r(summary[key], 6) if isinstance(summary[key], float) else summary[key]
                           for key in figures}
        for name in ("latency_p50", "latency_p95", "latency_p99"):  # each inside what its sample supports
            lo, hi = row[f"{name}_ci"]
            assert lo <= row[name] <= hi and lo < hi
        assert row["latency_p99"] is not None and row["completed"] > 1000


def test_a_single_session_frame_has_no_b():
    session = Session("s", "t", "c", Scenario.from_link(LINK), Settings(), now=0.0)
    frame = session.frame(Cursor())
    assert "b" not in frame and "compare" not in frame and "outcomes" not in frame


def test_fork_copies_a_run_at_this_moment_and_the_copy_runs_on_identically():
    session = Session("s", "t", "c", Scenario.from_link(LINK), Settings(), now=0.0)
    session.watched = True
    clock = Clock()
    run_for(session, clock, 3)
    act(session, clock, {"action": "burst", "n": 30})
    act(session, clock, {"set": {"workers": 3, "limit": 3}})
    run_for(session, clock, 3)
    act(session, clock, {"compare": "fork"})
    assert session.b is not None
    assert session.b.engine.now == session.a.engine.now
    assert totals(session, "b") == totals(session, "a")
    assert session.b.engine.snapshot() == session.a.engine.snapshot()
    # The charts' past is A's too. (Queue depth and calls in flight are gauges a window reads when
    # it closes, at the end of the advance that passes its end; a replay advances in other steps.)
    gauges = {frames.WINDOW_COLUMNS.index("queue"), frames.WINDOW_COLUMNS.index("in_flight")}
    past = [[[v for i, v in enumerate(row) if i not in gauges] for _, row in side.windows]
            for side in (session.a, session.b)]
    assert len(past[1]) >= 10 and past[1] == past[0]
    run_for(session, clock, 4)  # no change yet: the two futures are one
    assert totals(session, "b") == totals(session, "a")
    act(session, clock, {"set": {"policy": "reject"}, "to": "b"})
    run_for(session, clock, 4)
    assert totals(session, "b")["arrived"] == totals(session, "a")["arrived"]
    assert totals(session, "b")["rejected"] > 0 == totals(session, "a")["rejected"]
    # The link is the whole run: B began as A, and was set to reject when it was.
    run = RunLink.from_link(session.link())
    assert run.comparison.b == run.comparison.a
    assert [entry.text().split(":", 1)[1] for entry in run.entries] == [
        "burst=30", "workers=3;limit=3", "b.policy=reject"], session.link()


def test_start_runs_both_from_the_beginning_with_b_a_copy_of_a():
    session = Session("s", "t", "c", Scenario.from_link(LINK), Settings(), now=0.0)
    session.watched = True
    clock = Clock()
    run_for(session, clock, 3)
    act(session, clock, {"compare": "start", "set": {"policy": "drop-oldest"}, "to": "b"})
    assert session.run == 1 and session.a.engine.now == session.b.engine.now == 0
    assert session.a.engine.scenario.policy == "block" and session.b.engine.scenario.policy == "drop-oldest"
    assert session.link() == LINK + "&b.policy=drop-oldest"


def test_set_goes_to_a_b_or_both_and_shared_keys_only_to_both():
    session, clock = comparing()
    act(session, clock, {"set": {"workers": 3}, "to": "both"})
    assert session.a.engine.scenario.workers == session.b.engine.scenario.workers == 3
    act(session, clock, {"set": {"queue": 20}, "to": "b"})
    assert (session.a.engine.scenario.queue, session.b.engine.scenario.queue) == (10, 20)
    act(session, clock, {"set": {"queue": 5}})  # no "to": A
    assert (session.a.engine.scenario.queue, session.b.engine.scenario.queue) == (5, 20)
    before = session.link()
    with pytest.raises(Invalid, match=r"rate is shared by A and B .* \"to\": \"both\""):
        act(session, clock, {"set": {"rate": 10, "queue": 3}, "to": "b"})
    assert session.link() == before  # refused whole: queue did not change either
    act(session, clock, {"set": {"rate": 10}, "to": "both"})
    assert session.a.engine.scenario.rate == session.b.engine.scenario.rate == 10


def test_actions_reach_both_services():
    session, clock = comparing()
    run_for(session, clock, 1)
    act(session, clock, {"action": "burst", "n": 40})
    assert totals(session, "a")["arrived"] == totals(session, "b")["arrived"]
    act(session, clock, {"action": "reset"})
    assert session.a.engine.now == session.b.engine.now == 0 and session.b.engine.scenario.policy == "reject"


def test_swap_and_stop():
    session, clock = comparing()
    run_for(session, clock, 2)
    cursor = Cursor()
    session.frame(cursor)
    act(session, clock, {"compare": "swap"})
    assert session.a.engine.scenario.policy == "reject" and session.b.engine.scenario.policy == "block"
    swapped = session.frame(cursor)
    assert swapped["full"] and swapped["compare"]["label"] == "A: policy reject · B: policy block"
    act(session, clock, {"compare": "stop"})
    stopped = session.frame(cursor)
    assert stopped["full"] and "b" not in stopped and session.link() == Scenario.from_link(LINK + "&policy=reject").to_link()


@pytest.mark.parametrize("body, field, words", [
    ({"set": {"queue": 3}, "to": "b"}, "to", "there is no service B"),
    ({"compare": "swap"}, "compare", "no comparison to swap"),
    ({"compare": "sideways"}, "compare", "compare must be one of start, fork, swap, stop"),
    ({"to": "both"}, "to", '"to" goes with "set"'),
    ({"set": {"queue": 3}, "to": "c"}, "to", "to must be one of a, b, both"),
    ({"compare": "fork", "set": {"queue": 3}, "to": "b"}, "set", "send it after"),
])
def test_bad_comparison_controls_are_refused_with_a_sentence(body, field, words):
    session = Session("s", "t", "c", Scenario.from_link(LINK), Settings(), now=0.0)
    with pytest.raises(Invalid, match=words) as caught:
        act(session, Clock(), body)
    assert caught.value.field == field and session.b is None


def test_fork_refuses_a_run_longer_than_it_replays():
    session = Session("s", "t", "c", Scenario.from_link("v=1&rate=1"), Settings(), now=0.0)
    session.engine.advance(4000)
    with pytest.raises(Invalid, match="more than the 3,600 s a fork may replay"):
        act(session, Clock(), {"compare": "fork"})


# Over HTTP ---------------------------------------------------------------------------------------


def test_a_comparison_link_opens_a_comparing_session(make_client):
    client = make_client()
    session = create(client, {"link": LINK + "&b.policy=reject"})
    assert session["link"] == LINK + "&b.policy=reject"
    assert session["compare"]["label"] == "A: policy block · B: policy reject"
    frame = session["frame"]
    assert frame["full"] and frame["b"]["state"]["totals"]["arrived"] == 0
    assert frame["compare"]["b_scenario"]["policy"] == "reject"
    summary = client.get(session["control"].replace("/control", "/summary")).json()
    assert set(summary) == {"a", "b", "link", "label"} and summary["b"]["rejected"] == 0
    result = control(client, session, {"set": {"queue": 4}, "to": "b"})
    assert result["link"] == LINK + "&b.queue=4&b.policy=reject"
    refused = client.post(session["control"], json={"set": {"seed": 4}, "to": "b"}, headers=auth(session))
    assert refused.status_code == 422 and "seed" in refused.json()["error"]


def test_a_comparison_link_with_a_bad_b_key_is_refused_naming_it(make_client):
    client = make_client()
    response = client.post("/api/sessions", json={"link": LINK + "&b.rate=5"})
    assert response.status_code == 422
    assert response.json()["field"] == "b.rate" and "shared" in response.json()["error"]


def test_the_page_opens_the_valid_b_keys_and_names_the_bad_ones(make_client):
    from playground.web.app import link_verdict
    verdict = link_verdict(LINK + "&b.policy=reject&b.queue=-3&b.rate=5")
    assert verdict["link"] == LINK + "&b.policy=reject"
    assert verdict["compare"]["b_scenario"]["policy"] == "reject"
    assert [error["field"] for error in verdict["errors"]] == ["b.queue", "b.rate"]


def test_the_code_view_of_a_comparison_is_the_diff_of_the_programs(make_client):
    client = make_client()
    program = client.get("/api/code/3.13?" + LINK + "&b.policy=reject").json()
    assert program["diff"] is True
    assert program["source"].startswith("--- A.py\n+++ B.py\n")
    assert "+" in program["source"] and "put_nowait" in program["source"]
    assert 'class="gd"' in program["html"] or 'class="gi"' in program["html"]  # Pygments' diff colours
