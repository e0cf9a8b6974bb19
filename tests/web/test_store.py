"""Runs that outlive the process (store.py, keeper.py): what is written, what comes back, and what
happens when the file cannot be read or written. The apps here run in-process (TestClient runs
their lifespan, where restores happen); tests/e2e/test_restart.py kills a real server mid-lesson."""

from __future__ import annotations

import logging
import sqlite3
import time

import anyio
import pytest
from starlette.testclient import TestClient

from playground.model.scenario import Scenario
from playground.sim.engine import Engine
from playground.web import keeper as keeper_module
from playground.web.app import create_app
from playground.web.settings import Settings
from playground.web.store import NullStore, SqliteStore, default_path, open_store

LINK = "v=1&preset=webhook-ingestion&seed=3"


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "playground" and r.levelno >= logging.WARNING]


def _wait_restored(app, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while any(s.restoring for s in app.state.manager.sessions.values()):
        assert time.monotonic() < deadline, "the restore did not finish"
        time.sleep(0.02)


def _drive(client, app, session, body, until: float | None = None):
    """A control, after moving the run on to ``until`` as its streams would."""
    if until is not None:
        live = app.state.manager.sessions[session["id"]]
        for side in live.sides:
            side.engine.advance(until)
    auth = {"Authorization": f"Bearer {session['token']}"}
    response = client.post(session["control"], json=body, headers=auth)
    assert response.status_code == 200, response.text


def test_a_room_and_a_comparison_come_back_where_they_were(tmp_path):
    path = tmp_path / "state.sqlite3"
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        made = client.post("/api/rooms", json={"link": LINK}).json()
        code, session = made["code"], made["session"]
        auth = {"Authorization": f"Bearer {session['token']}"}
        _drive(client, app, session, {"set": {"queue": 5}}, until=3.0)
        _drive(client, app, session, {"action": "hiccup", "factor": 5, "seconds": 3}, until=5.0)
        _drive(client, app, session, {"action": "burst", "n": 30}, until=6.0)
        student = client.post(f"/api/rooms/{code}/join", json={}).json()["student"]
        assert client.post(f"/api/rooms/{code}/control", json={"ask": "completed-next"}, headers=auth).status_code == 200
        assert client.post(f"/api/rooms/{code}/answer", json={"student": student, "value": 40}).status_code == 200
        assert client.post(f"/api/rooms/{code}/control", json={"allow_send": True}, headers=auth).status_code == 200
        # A second session, comparing: B forked from A's run, then changed alone.
        other = client.post("/api/sessions", json={"link": "v=1&preset=background-jobs"}).json()
        _drive(client, app, other, {"compare": "fork"}, until=4.0)
        _drive(client, app, other, {"set": {"workers": 6}, "to": "b"}, until=7.0)
        _drive(client, app, other, {"speed": 2}, until=8.5)
        live = app.state.manager.sessions[session["id"]]
        live.a.engine.advance(9.5)
        was = {sid: [(side.engine.now, side.engine.totals(), list(side.engine.control_log), side.engine.initial)
                     for side in s.sides] for sid, s in app.state.manager.sessions.items()}
        time.sleep(2.5)  # a checkpoint of the sim times reached
    # (Leaving the client stopped the app, as a SIGTERM does: its last flush was written too.)

    again = create_app(Settings(state=str(path)))
    with TestClient(again) as client:
        _wait_restored(again)
        sessions = again.state.manager.sessions
        assert set(sessions) == set(was)
        for sid, sides in was.items():
            for side, (now, totals, log, initial) in zip(sessions[sid].sides, sides):
                assert side.engine.now == now
                assert side.engine.control_log == log
                assert side.engine.totals() == totals == Engine.replay(initial, log, now).totals()
        assert sessions[other["id"]].speed == 2 and sessions[other["id"]].b is not None
        room = again.state.rooms.rooms[code]
        assert room.session is sessions[session["id"]] and room.allow_send
        assert room.question.key == "completed-next" and room.question.answers == {student: 40}
        # The teacher's token still drives; a wrong one does not; the phone's id still counts once.
        assert client.post(session["control"], json={"action": "pause"}, headers=auth).status_code == 200
        wrong = client.post(session["control"], json={"action": "resume"}, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 403
        assert client.post(f"/api/rooms/{code}/answer", json={"student": student, "value": 41}).status_code == 200
        assert room.question.block()["answered"] == 1
        assert client.post(f"/api/rooms/{code}/send", json={"student": student}).status_code == 200


def test_the_state_file_holds_a_hash_of_the_token_never_the_token(tmp_path):
    path = tmp_path / "state.sqlite3"
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        session = client.post("/api/sessions", json={"link": LINK}).json()
        assert app.state.keeper.flush() == 1
        assert app.state.keeper.store.flushed()
    raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                               if path.with_name(path.name + "-wal").exists() else b"")
    assert session["token"].encode() not in raw
    with sqlite3.connect(path) as db:
        (stored,), = db.execute("SELECT token_hash FROM sessions").fetchall()
    assert len(stored) == 64 and stored != session["token"]


def test_an_ended_session_is_deleted_from_the_store(tmp_path):
    path = tmp_path / "state.sqlite3"
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        session = client.post("/api/sessions", json={"link": LINK}).json()
        app.state.keeper.flush()
        response = client.delete(f"/api/sessions/{session['id']}",
                                 headers={"Authorization": f"Bearer {session['token']}"})
        assert response.status_code == 204
        assert app.state.keeper.store.flushed()
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM controls").fetchone() == (0,)


@pytest.mark.parametrize("garbage", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_corrupt_state_file_is_set_aside_with_one_warning_and_the_server_starts(tmp_path, caplog, garbage):
    path = tmp_path / "state.sqlite3"
    path.write_bytes(garbage)
    caplog.set_level(logging.INFO, logger="playground")
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        assert client.get("/healthz").json()["sessions"] == 0
        assert client.post("/api/sessions", json={"link": LINK}).status_code == 201
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "could not be read" in warnings[0] and "moved to" in warnings[0], warnings
    aside, = tmp_path.glob("state.sqlite3.unreadable-*")
    assert aside.read_bytes() == garbage
    with sqlite3.connect(path) as db:  # a new, good file took its place
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_state_file_that_cannot_be_made_is_one_warning_and_no_store(tmp_path, caplog):
    (tmp_path / "file").write_text("a file where a directory should be")
    caplog.set_level(logging.INFO, logger="playground")
    store, sessions, rooms = open_store(str(tmp_path / "file" / "state.sqlite3"))
    assert isinstance(store, NullStore) and sessions == rooms == []
    assert len(_warnings(caplog)) == 1


def test_a_write_error_is_a_warning_and_the_session_is_written_whole_later(tmp_path, caplog):
    path = tmp_path / "state.sqlite3"
    caplog.set_level(logging.INFO, logger="playground")
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        store: SqliteStore = app.state.keeper.store
        kept = app.state.keeper
        session = client.post("/api/sessions", json={"link": LINK}).json()
        kept.flush()
        assert store.flushed()
        store.connection.execute("PRAGMA query_only = ON")  # every write now fails, as on a full disk
        for n in range(3):
            _drive(client, app, session, {"action": "burst", "n": 5}, until=1.0 + n)
            kept.flush()
            assert store.flushed()
        assert session["id"] in store.unsaved
        warnings = _warnings(caplog)
        assert len(warnings) == 1 and "could not write the state file" in warnings[0], warnings
        assert client.get("/healthz").status_code == 200  # not an outage
        store.connection.execute("PRAGMA query_only = OFF")
        kept.flush()
        assert store.flushed() and not store.unsaved
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM controls").fetchone() == (3,)
    assert len(_warnings(caplog)) == 1


def test_state_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(environ={"PLAYGROUND_STATE": "none"})
    app = create_app(settings)
    assert isinstance(app.state.keeper.store, NullStore) and not app.state.keeper.enabled
    with TestClient(app) as client:
        session = client.post("/api/sessions", json={"link": LINK}).json()
        _drive(client, app, session, {"action": "burst", "n": 5}, until=1.0)
        assert app.state.keeper.flush(checkpoint=True) == 0
    assert list(tmp_path.iterdir()) == []
    assert default_path() == tmp_path / "state" / "backpressure-playground" / "state.sqlite3"


def test_restores_are_budgeted_and_leave_the_loop_to_live_streams(tmp_path, monkeypatch):
    """Heavy sessions restored one at a time, each at most RESTORE_BUDGETS budgets of work between
    two frame intervals, while a live task keeps its 10 ms ticks."""
    path = tmp_path / "state.sqlite3"
    settings = Settings(state=str(path))
    app = create_app(settings)
    heavy = 6
    with TestClient(app) as client:
        for _ in range(heavy):
            made = client.post("/api/sessions", json={"link": "v=1&preset=retry-storm"}).json()
            _drive(client, app, made, {"action": "hiccup", "factor": 5, "seconds": 3}, until=20.0)
            app.state.manager.sessions[made["id"]].a.engine.advance(60.0)
        app.state.keeper.flush(checkpoint=True)

    again = create_app(settings)
    kept = again.state.keeper
    replays = again.state.manager.replays
    seen = {"running": 0, "intervals": 0}
    interval = replays.interval

    def counted_interval():
        seen["intervals"] += 1
        seen["running"] = max(seen["running"], replays.running)
        return interval()

    replays.interval = counted_interval
    gaps = []

    async def restore_beside_a_live_task():
        kept.restore(*kept.store.load_all())
        done = anyio.Event()

        async def live():
            while not done.is_set():
                start = time.perf_counter()
                await anyio.sleep(0.01)
                gaps.append(time.perf_counter() - start - 0.01)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(live)
            await kept.rebuild()
            done.set()

    anyio.run(restore_beside_a_live_task)
    budget = settings.tick_budget * keeper_module.RESTORE_BUDGETS
    work = sum(s.a.engine.work for s in again.state.manager.sessions.values())  # what the replays ran
    assert work > 20 * budget
    assert not any(s.restoring for s in again.state.manager.sessions.values())
    assert seen["running"] == 1  # one restore at a time, counted among the process's replays
    # Every budget of work was followed by a frame interval's wait (a short last slice each apart).
    assert seen["intervals"] >= work // budget - heavy, (seen, work)
    gaps.sort()
    print(f"restored {heavy} retry storms at 60 s ({work:,} callbacks) in {kept.restore_seconds:.2f} s; "
          f"live ticks late by p50 {gaps[len(gaps) // 2] * 1000:.1f} ms, max {gaps[-1] * 1000:.1f} ms")
    assert gaps[-1] < 0.25, f"a live task waited {gaps[-1]:.3f} s"
    kept.store.close()


def test_a_stored_session_this_version_cannot_read_is_left_out_with_a_warning(tmp_path, caplog):
    path = tmp_path / "state.sqlite3"
    app = create_app(Settings(state=str(path)))
    with TestClient(app) as client:
        client.post("/api/sessions", json={"link": LINK})
        app.state.keeper.flush()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sessions SET state = json_set(state, '$.sides[0].initial', 'v=1&queue=-4')")
    caplog.set_level(logging.INFO, logger="playground")
    again = create_app(Settings(state=str(path)))
    with TestClient(again) as client:
        assert client.get("/healthz").json()["sessions"] == 0
    assert len(_warnings(caplog)) == 1
    assert Scenario.from_link(LINK)  # (the good link still parses: it was the stored one that was bad)
