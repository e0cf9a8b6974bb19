"""A link is the whole run (issue 22): what was done during a run travels in its link (``do=``),
opening it plays it again exactly, ``at=`` opens a moment of it, and the CLI reads the same link.
Bad logs are refused whole with a sentence naming the entry; every path is budgeted."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import anyio
import pytest
from starlette.testclient import TestClient

from playground import cli
from playground.model import script
from playground.model.script import RunLink
from playground.model.scenario import ScenarioError
from playground.web.app import create_app
from playground.web.sessions import Session
from playground.web.settings import Settings
from app_client import auth, boot_data, control, create

LINK = "v=1&preset=webhook-ingestion&seed=3"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def session_of(link: str, settings: Settings | None = None) -> tuple[Session, Clock]:
    run = RunLink.from_link(link)
    session = Session("s", "t", "c", run.comparison.a, settings or Settings(), now=0.0, b=run.comparison.b)
    anyio.run(session.begin, run)
    session.watched = True
    return session, Clock()


def run_for(session: Session, clock: Clock, seconds: float, frame: float = 0.05) -> None:
    for _ in range(round(seconds / frame)):
        clock.now += frame
        session.catch_up(clock.now)


def run_to(session: Session, clock: Clock, t: float) -> None:
    """Play on until every side is at sim time ``t`` exactly (the last frame lands on it)."""
    while session.a.engine.now < t:
        clock.now += 0.05
        session.catch_up(clock.now)
        if session.a.engine.now > t - 0.05 * session.speed:
            break
    for side in session.sides:
        side.engine.advance(t)


def act(session: Session, clock: Clock, body: dict) -> dict:
    return anyio.run(session.control, body, clock)


def cli_json(*argv: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(list(argv)) == 0
    return json.loads(out.getvalue())


def totals(session: Session, side: str = "a") -> dict:
    return getattr(session, side).engine.totals()


def test_what_was_done_travels_in_the_link_and_replays_exactly():
    live, clock = session_of(LINK)
    run_for(live, clock, 3.02)
    act(live, clock, {"set": {"queue": 5}})
    run_for(live, clock, 2)
    act(live, clock, {"action": "hiccup", "factor": 5, "seconds": 3})
    run_for(live, clock, 1)
    act(live, clock, {"action": "burst", "n": 50})
    run_for(live, clock, 1.5)
    act(live, clock, {"action": "pause"})
    link = live.link()
    t = live.a.engine.now
    assert t == script.quantize(t)  # a control (pause too) lands on a millisecond: at= names it
    entries = link.split("do=")[1].split(",")
    assert [e.split(":", 1)[1] for e in entries] == ["queue=5", "hiccup=5x3", "burst=50"], link
    # Every entry's time is the millisecond the control was applied at.
    assert [t for t, _ in live.a.engine.control_log] == [float(e.split(":")[0]) for e in entries]

    again, clock2 = session_of(link)
    run_to(again, clock2, t)
    assert totals(again) == totals(live)
    assert again.a.engine.scenario == live.a.engine.scenario
    assert again.link() == link  # the played log is the same log
    cli_summary = cli_json("run", link, "--until", script.format_time(t), "--json")
    summary = live.a.engine.summary()
    for key in ("completed", "rejected", "latency_p99", "arrived"):
        assert cli_summary.get(key) == summary.get(key), key


def test_a_fork_and_bs_own_settings_travel_and_replay_both_services():
    live, clock = session_of(LINK)
    run_for(live, clock, 2)
    act(live, clock, {"action": "burst", "n": 40})
    run_for(live, clock, 2)
    act(live, clock, {"compare": "fork"})
    act(live, clock, {"set": {"policy": "drop-oldest"}, "to": "b"})
    run_for(live, clock, 2)
    act(live, clock, {"set": {"workers": 2}, "to": "a"})
    act(live, clock, {"action": "hiccup", "factor": 3, "seconds": 2})
    run_for(live, clock, 2)
    act(live, clock, {"action": "pause"})
    link = live.link()
    assert ":b.policy=drop-oldest" in link and ":a.workers=2" in link and "burst=40" in link
    t = live.a.engine.now
    again, clock2 = session_of(link)
    assert again.b is not None
    run_to(again, clock2, t)
    for side in ("a", "b"):
        assert totals(again, side) == totals(live, side), side
    assert again.b.engine.scenario.policy == "drop-oldest"
    assert again.a.engine.scenario.workers == 2
    cli_summary = cli_json("run", link, "--until", script.format_time(t), "--json")
    for side in ("a", "b"):
        assert cli_summary[side]["completed"] == live.sides["ab".index(side)].engine.summary()["completed"]


def test_at_opens_the_moment_paused_with_the_clis_state():
    link = LINK + "&do=3:queue=5,5:hiccup=5x3,6:burst=50&at=8.5"
    session, clock = session_of(link)
    assert session.paused and session.a.engine.now == 8.5
    run_for(session, clock, 2)  # paused: nothing moves
    assert session.a.engine.now == 8.5
    cli_summary = cli_json("run", link, "--json")  # at= is where the CLI stops
    summary = session.a.engine.summary()
    for key in ("completed", "rejected", "arrived", "latency_p99", "in_system"):
        assert cli_summary.get(key) == summary.get(key), key
    act(session, clock, {"action": "resume"})
    run_for(session, clock, 1)
    assert session.a.engine.now > 8.5


def test_a_moment_past_the_link_entries_keeps_the_later_ones_to_play():
    link = LINK + "&do=3:queue=5,12:drain&at=6"
    session, clock = session_of(link)
    assert [t for t, _ in session.a.engine.script] == [12.0]
    assert session.upcoming() == 1
    assert "12:drain" in session.link()
    act(session, clock, {"action": "resume"})
    run_for(session, clock, 7)
    assert session.a.engine.draining


def test_a_control_during_playback_drops_the_links_future():
    session, clock = session_of(LINK + "&do=2:queue=5,10:burst=100,20:drain")
    run_for(session, clock, 4)
    assert session.a.engine.scenario.queue == 5
    answer = act(session, clock, {"set": {"workers": 3}})
    assert answer["dropped"] == 2 and answer["upcoming"] == 0
    assert "burst" not in answer["link"] and "drain" not in answer["link"]
    assert "2:queue=5" in answer["link"] and ":workers=3" in answer["link"]
    # Pausing changes nothing about the run: it keeps the future.
    session, clock = session_of(LINK + "&do=2:queue=5,10:burst=100")
    run_for(session, clock, 1)
    answer = act(session, clock, {"action": "pause"})
    assert answer["upcoming"] == 2 and "dropped" not in answer


@pytest.mark.parametrize("do, words", [
    ("3:queue=abc", "do's entry 1 ('3:queue=abc') at 3 s: queue must be an integer from 0 to"),
    ("3:queue=5,2:burst=10", "do's entry 2 ('2:burst=10') is at 2 s, before the entry ahead of it at 3 s"),
    ("3:drain,4:burst=5", "a burst cannot follow a drain"),
    ("3:burst=0", "a burst's n must be an integer from 1 to 10,000; got '0'"),
    ("3:burst=20000", "a burst's n must be an integer from 1 to 10,000"),
    ("3:hiccup=0.5x3", "a hiccup is hiccup=FACTORxSECONDS, FACTOR from 1 to 1000"),
    ("3:warp=9", "'warp=9' is not a control"),
    ("3:seed=4", "seed cannot change while running"),
    ("queue=5", "must be TIME:CONTROL"),
    ("3.0001:queue=5", "at most three decimals"),
    ("4000:queue=5", "a link may name sim times up to 3,600 s"),
    ("3:rate=500;b.queue=1", "one entry changes one service, or both"),
    ("3:b.rate=5", "rate is shared by A and B"),
    ("3:arrivals=asap", "arrivals=asap"),
    (",".join(f"{i}:burst=1" for i in range(201)), "do has 201 entries; it may have at most 200"),
    ("1:queue=5," * 500, "characters long; it may be at most 4,000"),
])
def test_bad_logs_are_refused_whole_with_the_entry_named(do, words):
    with pytest.raises(ScenarioError) as error:
        RunLink.from_link(f"{LINK}&do={do}")
    assert words in str(error.value)
    assert error.value.field == "do"


def test_the_api_refuses_a_bad_log_or_moment_and_makes_nothing():
    app = create_app(Settings(state="none"))
    with TestClient(app) as client:
        for link, field, words in [
            (LINK + "&do=3:queue=abc", "do", "do's entry 1"),
            (LINK + "&at=9999", "at", "a link may name sim times up to 3,600 s"),
            (LINK + "&at=-1", "at", "at must be a time in seconds"),
            (LINK + "&at=1&at=2", "at", "at is given 2 times"),
        ]:
            response = client.post("/api/sessions", json={"link": link})
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field and words in response.json()["error"], response.text
        assert len(app.state.manager.sessions) == 0
        # A good one opens at its moment, paused.
        session = create(client, {"link": LINK + "&do=2:burst=30&at=4"})
        assert session["paused"] and session["t"] == 4.0 and session["link"].endswith("do=2:burst=30&at=4")
        frame = session["frame"]
        assert frame["state"] and frame["t"] == 4.0


def test_a_moment_too_costly_to_rebuild_is_refused_and_the_server_goes_on():
    # 600 frames of 200 steps: 120,000 steps, a third of the ten minutes named; 100 frames a second
    # so that the paced replay reaches the cap in about 1.5 s.
    settings = Settings(state="none", tick_budget=200, frame_rate=100)
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.post("/api/sessions", json={"link": "v=1&preset=retry-storm&do=5:hiccup=5x3&at=600"})
        assert response.status_code == 422, response.text
        assert "needs the run rebuilt by replay" in response.json()["error"]
        assert response.json()["field"] == "at"
        assert len(app.state.manager.sessions) == 0
        assert app.state.manager.replays.running == 0
        create(client, {"link": LINK})  # nothing held


def test_scripted_bursts_pass_the_sandbox_like_live_ones():
    """200 bursts of 10,000 at one instant would make 2,000,000 items in one frame: each passes the
    same check a live burst does, so the run holds at most --max-items, and the rest are skipped
    with the reason."""
    settings = Settings(state="none", max_items=20_000)
    do = ",".join("1:burst=10000" for _ in range(200))
    session, clock = session_of(f"v=1&rate=10&queue=0&do={do}", settings)  # an unbounded queue holds them
    run_for(session, clock, 2)
    engine = session.a.engine
    assert engine.metrics.in_system <= 20_000
    assert len(engine.skipped) >= 198
    assert "more than the 20,000 the playground simulates" in engine.skipped[-1][2]


def test_the_page_of_a_link_shows_a_bad_log_and_plays_without_it():
    app = create_app(Settings(state="none"))
    with TestClient(app) as client:
        good = boot_data(client.get("/?" + LINK + "&do=3:queue=5,6:burst=20&at=7"))
        assert good["verdict"]["link"] == LINK + "&do=3:queue=5,6:burst=20&at=7"
        assert not good["verdict"]["errors"]
        bad = boot_data(client.get("/?" + LINK + "&do=3:queue=abc"))
        assert bad["verdict"]["link"] == LINK
        assert bad["verdict"]["errors"][0]["field"] == "do"
        assert "do's entry 1" in bad["verdict"]["errors"][0]["message"]


def test_every_v1_link_means_what_it_meant():
    """A link without do= or at= is its settings, as before: same link back, no log."""
    from playground.model.compare import Comparison
    for link in (LINK + "&queue=5&b.policy=reject", "preset=retry-storm", "queue=3&policy=reject"):
        run = RunLink.from_link(link)
        assert run.entries == () and run.at is None
        assert run.to_link() == Comparison.from_link(link).to_link()


def a_run_that_changed_then_burst(after: float) -> tuple[Session, Clock]:
    """LINK with queue=5 set at about 2 s and a burst of 40 at about 5 s, played ``after`` s on."""
    live, clock = session_of(LINK)
    run_for(live, clock, 2)
    act(live, clock, {"set": {"queue": 5}})
    run_for(live, clock, 3)
    act(live, clock, {"action": "burst", "n": 40})
    run_for(live, clock, after)
    return live, clock


def test_continue_from_a_moment_makes_it_the_present_and_discards_the_future():
    live, clock = a_run_that_changed_then_burst(3)
    at_three = cli_json("run", LINK + "&do=" + live.link().split("do=")[1].split(",")[0], "--until", "3", "--json")
    answer = act(live, clock, {"continue_from": 3})
    assert answer["continued_from"] == 3 and answer["t"] == 3.0 and answer["dropped"] == 1
    assert "burst" not in answer["link"] and ":queue=5" in answer["link"]
    summary = live.a.engine.summary()
    for key in ("arrived", "completed", "rejected", "latency_p99", "in_system"):
        assert summary[key] == at_three[key], key
    run_for(live, clock, 1)
    assert live.a.engine.now > 3  # it plays on from there


@pytest.mark.parametrize("body, words", [
    ({"continue_from": -1}, "continue_from must be a sim time from 0 to"),
    ({"continue_from": 99}, "continue_from must be a sim time from 0 to"),
    ({"continue_from": "3"}, "continue_from must be a sim time"),
    ({"continue_from": 1, "action": "burst"}, '"continue_from" goes alone'),
])
def test_continue_from_refuses_what_is_not_a_moment_of_this_run(body, words):
    from playground.web.errors import Invalid
    live, clock = session_of(LINK)
    run_for(live, clock, 2)
    before = live.a.engine.totals()
    with pytest.raises(Invalid) as error:
        act(live, clock, body)
    assert words in str(error.value)
    assert live.a.engine.totals() == before


def test_fork_from_a_moment_makes_b_a_copy_of_a_there_and_the_link_a_comparison():
    """Fork B from here: B is A as it was at T (A's own log up to T), the link is a comparison
    that reopens as one, and what A did after T is gone from both."""
    live, clock = a_run_that_changed_then_burst(2)
    answer = act(live, clock, {"continue_from": 3, "compare": "fork", "paused": True})
    assert answer["continued_from"] == 3 and answer["dropped"] == 1
    assert live.b is not None and live.paused
    assert live.a.engine.totals() == live.b.engine.totals()
    assert live.a.engine.now == live.b.engine.now == 3
    link = answer["link"]
    assert "b." in link and "burst" not in link and ":queue=5" in link
    reopened = RunLink.from_link(link)
    assert reopened.comparison.b is not None
    assert reopened.comparison.a == reopened.comparison.b
    act(live, clock, {"set": {"workers": 9}, "to": "b"})
    act(live, clock, {"action": "resume"})
    run_for(live, clock, 2)
    assert live.a.engine.totals() != live.b.engine.totals()  # the two futures part


def test_fork_from_a_moment_of_a_comparison_copies_a_and_leaves_bs_log_behind():
    live, clock = session_of(LINK + "&b.policy=reject")
    run_for(live, clock, 2)
    act(live, clock, {"set": {"workers": 2}, "to": "b"})
    run_for(live, clock, 2)
    answer = act(live, clock, {"continue_from": 3, "compare": "fork"})
    assert "b.policy" not in answer["link"] and "b.workers=2" not in answer["link"]
    assert live.a.engine.totals() == live.b.engine.totals()


@pytest.mark.parametrize("value", ["start", True, "FORK", None])
def test_fork_from_a_moment_names_compare_when_it_is_not_fork(value):
    from playground.web.errors import Invalid
    live, clock = session_of(LINK)
    run_for(live, clock, 2)
    before = live.a.engine.totals()
    with pytest.raises(Invalid) as error:
        act(live, clock, {"continue_from": 1, "compare": value})
    assert error.value.field == "compare" and 'compare may only be "fork"' in str(error.value)
    assert live.a.engine.totals() == before and live.b is None
