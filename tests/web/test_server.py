"""Tests for the server against a real uvicorn process (python -m playground) on a free port.

Streams are read with httpx + httpx-sse, from threads where a test watches several
at once (server_helpers.StreamReader). Every server's log is checked for tracebacks
and ERROR lines when the test ends (conftest.make_server).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time

import httpx
import pytest
from httpx_sse import connect_sse
from server_helpers import StreamReader, read_frames


def test_first_frame_at_once_then_frames_at_the_frame_rate(make_server):
    server = make_server()
    session = server.create()
    with httpx.Client(timeout=10) as client:
        started = time.monotonic()
        with connect_sse(client, "GET", session["stream_url"]) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"].startswith("text/event-stream")
            assert source.response.headers["cache-control"] == "no-store"
            assert source.response.headers["x-content-type-options"] == "nosniff"
            assert source.response.headers["referrer-policy"] == "same-origin"
            assert "'unsafe-inline'" not in source.response.headers["content-security-policy"]
            iterator = source.iter_sse()
            first = next(iterator)
            latency = time.monotonic() - started
            frames = [first]
            counting_from = time.monotonic()
            for sse in iterator:
                frames.append(sse)
                if time.monotonic() - counting_from >= 2.0:
                    break
            elapsed = time.monotonic() - counting_from
    fps = (len(frames) - 1) / elapsed
    print(f"\nfirst frame after {latency * 1000:.1f} ms; {fps:.1f} frames/s over {elapsed:.2f} s")
    assert latency <= 0.300  # the issue asks for 150 ms; slack for a noisy 2-core machine
    assert 16 <= fps <= 22

    assert first.event == "frame" and first.retry == 1000
    assert all(sse.retry is None for sse in frames[1:])
    parsed = [json.loads(sse.data) for sse in frames]
    for sse, frame in zip(frames, parsed):
        assert sse.event == "frame"
        assert sse.id == str(frame["n"])
    numbers = [frame["n"] for frame in parsed]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert parsed[0]["full"] is True and parsed[0]["link"] == "v=1"
    assert all("full" not in frame for frame in parsed[1:])
    times = [frame["t"] for frame in parsed]
    assert times == sorted(times) and times[-1] > 1.5  # sim time runs at speed 1
    sizes = sorted(len(sse.data) for sse in frames[1:])
    assert sizes[len(sizes) // 2] < 2048  # a typical frame is under 2 KB


def test_a_control_change_shows_in_the_following_frames(make_server):
    server = make_server()
    session = server.create()
    reader = StreamReader(session["stream_url"])
    try:
        reader.wait_for(lambda frame: frame["n"] >= 2 and frame["t"] > 0)  # the run has moved on from t = 0
        assert reader.frames()[-1]["state"]["queue"]["max"] == 20
        result = server.control(session, {"set": {"queue": 5}})
        answered = time.monotonic()
        # The link is the whole run: the change is an entry at the millisecond it was applied at.
        assert result["scenario"]["queue"] == 5 and re.fullmatch(r"v=1&do=[0-9.]+:queue=5", result["link"])
        reader.wait_for(lambda frame: frame["state"]["queue"]["max"] == 5, timeout=1)
        time.sleep(0.3)  # a few more frames, so "every later frame" has something to check
        after = reader.frames(since=answered)
        # Within a few frames, and every later frame keeps it.
        changed = [frame["state"]["queue"]["max"] == 5 for frame in after]
        assert changed.index(True) <= 2
        assert all(changed[changed.index(True):])
    finally:
        reader.close()


def _paused_and_reset(server, link):
    session = server.create({"link": link})
    reader = StreamReader(session["stream_url"])
    reader.wait_for(lambda frame: frame["n"] >= 1)
    server.control(session, {"action": "pause"})
    result = server.control(session, {"action": "reset"})
    assert result["t"] == 0 and result["paused"] is True
    return session, reader


def test_same_link_and_same_controls_give_identical_frames(make_server):
    server = make_server()
    link = "rate=40&queue=3&workers=2&limit=1&policy=drop-oldest&seed=7"
    a, reader_a = _paused_and_reset(server, link)
    # The second session runs a while longer before its reset: that must not matter.
    time.sleep(0.3)
    b, reader_b = _paused_and_reset(server, link)
    controls = ([{"action": "step"}] * 4 + [{"set": {"queue": 5, "service_time": 0.2}}]
                + [{"action": "step"}] * 3 + [{"action": "burst", "n": 6}] + [{"action": "step"}] * 6
                + [{"set": {"policy": "reject"}}, {"action": "step"}, {"action": "step"}])
    try:
        time.sleep(0.15)
        checked = 0
        for body in controls:
            sent = time.monotonic()
            result_a = server.control(a, body)
            result_b = server.control(b, body)
            assert result_a["t"] == result_b["t"] and result_a["link"] == result_b["link"]
            # Paused: the newest frame shows the state after the control; the frames since
            # it was sent carry its events (the same events, however they split in frames).
            time.sleep(0.15)
            shown = []
            for reader, result in [(reader_a, result_a), (reader_b, result_b)]:
                frames = reader.frames(since=sent)
                assert frames, "no frame after the control"
                last = frames[-1]
                assert last["t"] == result["t"] and last["status"] == "paused"
                shown.append((last["t"], last["state"], [e for f in frames for e in f["events"]]))
            assert shown[0] == shown[1], body
            checked += 1
            if body.get("action") == "step":
                assert shown[0][2] or shown[0][0] > 0  # a step moves the run on
        assert checked == len(controls)
        final = reader_a.frames()[-1]
        assert final["t"] > 0 and final["state"]["totals"]["arrived"] >= 6
    finally:
        reader_a.close()
        reader_b.close()


def test_reconnect_with_last_event_id_resumes_with_a_full_frame(make_server):
    server = make_server()
    session = server.create({"queue": 5})
    first = read_frames(session["stream_url"], 5)
    last_id = first[-1].id
    assert int(last_id) >= 5
    again = read_frames(session["stream_url"], 2, headers={"Last-Event-ID": last_id})
    resumed = json.loads(again[0].data)
    assert resumed["full"] is True and resumed["link"] == "v=1&queue=5"
    assert resumed["n"] > int(last_id)  # the session's frame count goes on
    assert resumed["t"] >= json.loads(first[-1].data)["t"]  # the same run, not a new one
    assert resumed["run"] == 0
    assert "full" not in json.loads(again[1].data)


def test_a_session_is_reaped_after_its_stream_closes(make_server):
    server = make_server(grace=1)
    session = server.create()
    read_frames(session["stream_url"], 3)
    closed = time.monotonic()
    while server.healthz()["sessions"] != 0:
        assert time.monotonic() - closed < 5, "not reaped within 5 s"
        time.sleep(0.1)
    print(f"\nreaped {time.monotonic() - closed:.2f} s after the stream closed")
    assert time.monotonic() - closed >= 0.9  # not before the grace period
    response = httpx.get(session["stream_url"], timeout=5)
    assert response.status_code == 410  # stops a browser's automatic reconnect
    assert response.json() == {"error": "no page watched this session for 1 s, so it ended."}


def test_a_watched_session_is_not_reaped(make_server):
    server = make_server(grace=1)
    session = server.create()
    reader = StreamReader(session["stream_url"])
    try:
        time.sleep(2.5)
        health = server.healthz()
        assert health["sessions"] == 1 and health["streams"] == 1
        assert reader.frames()[-1]["status"] == "running"
    finally:
        reader.close()


def test_caps_answer_503(make_server):
    server = make_server(max_sessions=2)
    server.create()
    server.create()
    response = httpx.post(server.url + "/api/sessions", json={}, timeout=5)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "the playground is full (2 sessions); try again shortly."
    assert server.healthz()["sessions"] == 2


def test_wrong_token_is_403(make_server):
    server = make_server()
    session = server.create()
    response = httpx.post(session["control_url"], json={"action": "pause"}, timeout=5,
                          headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 403


#: Big frames (64 workers listed, a full queue, many events): a stuck stream fills the
#: kernel's socket buffers (about 4 MB on loopback) within a few seconds at 500 frames/s.
HEAVY_FRAMES = "workers=64&limit=64&queue=40&rate=2000&policy=reject&service_time=0.05"


def _frames_sent(server) -> float:
    text = httpx.get(server.url + "/metrics", timeout=5).text
    return float(re.search(r"^playground_frames_sent_total (\S+)$", text, re.MULTILINE).group(1))


def _never_read(server, path: str) -> socket.socket:
    """Send a stream request on a raw socket with a tiny receive buffer, and never read it."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    return stuck


def _wait_until_blocked(server, timeout: float) -> float:
    """Seconds until the server stops making frames (nobody else streams meanwhile)."""
    started = time.monotonic()
    last, flat_since = _frames_sent(server), time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.2)
        now = _frames_sent(server)
        if now != last:
            last, flat_since = now, time.monotonic()
        elif time.monotonic() - flat_since >= 0.6:
            return flat_since - started
    raise AssertionError(f"the server still makes frames for a reader that never reads after {timeout} s")


def test_a_reader_that_never_reads_costs_bounded_memory(make_server):
    server = make_server(frame_rate=500)
    stuck_session = server.create({"link": HEAVY_FRAMES})
    other_session = server.create()
    read_frames(stuck_session["stream_url"], 300)  # warm up the same code paths first
    read_frames(other_session["stream_url"], 50)
    before = server.rss_kb()
    stuck = _never_read(server, stuck_session["stream"])
    try:
        started = time.monotonic()
        blocked_after = _wait_until_blocked(server, timeout=10)
        blocked_rss = server.rss_kb()
        # While it stays stuck, another client still gets frames at the frame rate.
        reads = []
        while time.monotonic() - started < max(5.0, blocked_after + 1.5):
            began = time.monotonic()
            frames = read_frames(other_session["stream_url"], 100, timeout=5)
            reads.append((len(frames), time.monotonic() - began))
        health = server.healthz()
        assert health["streams"] == 1 and health["sessions"] == 2  # the stuck stream is still open
        after = server.rss_kb()
    finally:
        stuck.close()
    growth_mb = (after - before) / 1024
    print(f"\nstuck reader: server stopped making its frames after {blocked_after:.1f} s; RSS before "
          f"{before / 1024:.1f} MB, when blocked {blocked_rss / 1024:.1f} MB, after "
          f"{time.monotonic() - started:.1f} s {after / 1024:.1f} MB (grew {growth_mb:.2f} MB); "
          f"other client: {', '.join(f'{n} frames in {t:.2f} s' for n, t in reads)}")
    assert growth_mb < 4
    assert all(n == 100 and t < 1.0 for n, t in reads)  # 100 frames at 500/s: 0.2 s


def test_send_timeout_ends_a_stream_that_is_never_read_quietly(make_server):
    server = make_server(frame_rate=500, send_timeout=1)
    session = server.create({"link": HEAVY_FRAMES})
    stuck = _never_read(server, session["stream"])
    try:
        started = time.monotonic()
        while server.healthz()["streams"] != 1:
            assert time.monotonic() - started < 5, "the stream did not open"
            time.sleep(0.02)
        while server.healthz()["streams"] != 0:
            assert time.monotonic() - started < 12, "send_timeout did not end the stream"
            time.sleep(0.2)
        print(f"\nsend_timeout=1 ended the stuck stream {time.monotonic() - started:.1f} s after it opened")
        assert server.healthz()["sessions"] == 1  # the session lives on for its grace period
    finally:
        stuck.close()
    server.log_checked = True
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log


@pytest.mark.parametrize("signum", [
    signal.SIGTERM,
    signal.SIGINT,
])
def test_a_signal_sends_bye_on_every_stream_and_exits_promptly(make_server, signum):
    server = make_server()
    readers = [StreamReader(server.create()["stream_url"]) for _ in range(3)]
    for reader in readers:
        reader.wait_for(lambda frame: frame["n"] >= 2)
    sent = time.monotonic()
    server.signal(signum)
    server.process.wait(timeout=5)
    exit_time = time.monotonic() - sent
    for reader in readers:
        assert reader.join(2), "a stream stayed open after the server exited"
        kinds = [sse.event for at, sse in reader.events]
        assert kinds[-1] == "bye", kinds[-3:]
        assert json.loads(reader.events[-1][1].data) == {"reason": "the server is shutting down"}
        assert reader.closed_at - sent < 2
    print(f"\n{signal.Signals(signum).name}: process exited {exit_time:.2f} s after the signal; "
          f"streams got bye after {max(r.events[-1][0] for r in readers) - sent:.2f} s; "
          f"exit status {server.process.returncode}")
    assert exit_time < 2
    # Checked here rather than at teardown, so the SIGINT case can be an expected failure.
    server.log_checked = True
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log


def test_a_session_ends_at_its_lifetime_with_a_sentence(make_server):
    server = make_server(lifetime=2)
    session = server.create()
    reader = StreamReader(session["stream_url"])
    assert reader.join(6), "the stream did not close after the lifetime"
    assert reader.error is None and reader.status == 200
    frames = reader.frames()
    last = frames[-1]
    assert last["status"] == "ended"
    assert last["message"].startswith("this session reached its ")
    assert last["message"] == ("this session reached its lifetime of 2 seconds and ended; "
                               "start a new one to carry on.")
    assert all(frame["status"] == "running" for frame in frames[:-1])
    assert 1.5 <= last["t"] <= 3.5
    assert httpx.get(session["stream_url"], timeout=5).status_code == 410


def test_a_heavy_scenario_is_throttled_and_says_so(make_server):
    server = make_server(tick_budget=50)
    session = server.create({"link": "rate=2000&service_time=0.001&workers=64&limit=64&queue=0"})
    reader = StreamReader(session["stream_url"])
    try:
        reader.wait_for(lambda frame: frame["n"] >= 1)
        server.control(session, {"speed": 20})
        changed = time.monotonic()
        frame = reader.wait_for(lambda frame: frame["speed"] == 20 and frame["throttled"])
        assert frame["effective_speed"] < 20
        assert frame["message"].startswith("This scenario needs more work than one session may do")
        assert "instead of 20x" in frame["message"]
        # Others are not starved: healthz answers promptly while it runs.
        started = time.monotonic()
        server.healthz()
        assert time.monotonic() - started < 0.2
        time.sleep(1.2)
        later = reader.frames(since=changed + 0.2)
        throttled = [f for f in later if f["throttled"]]
        assert len(throttled) >= 0.8 * len(later) >= 10
        assert all(f["effective_speed"] < 20 and "message" in f for f in throttled)
        # Behind real time: in 1 s of wall time at 20x, far less than 20 s of sim time passed.
        sim_rate = (later[-1]["t"] - later[0]["t"]) / 1.0
        print(f"\nthrottled: effective speed about {sum(f['effective_speed'] for f in later) / len(later):.2f}x "
              f"instead of 20x ({len(throttled)}/{len(later)} frames throttled)")
        assert sim_rate < 10
    finally:
        reader.close()


def test_the_sandbox_halts_a_run_that_holds_too_many_items(make_server):
    server = make_server(max_items=2000)
    session = server.create({"link": "queue=0&rate=2000&service_time=60&workers=1"})
    before = server.rss_kb()
    reader = StreamReader(session["stream_url"])
    try:
        reader.wait_for(lambda frame: frame["n"] >= 1)
        server.control(session, {"speed": 20})
        halted = reader.wait_for(lambda frame: frame["status"] == "halted", timeout=8)
        assert halted["message"].startswith("This run holds")
        assert "2,000" in halted["message"]
        queue = halted["state"]["queue"]
        assert len(queue["items"]) <= 40 and queue["n"] == len(queue["items"]) + queue["more"]
        time.sleep(0.5)
        frames = reader.frames()
        assert frames[-1]["status"] == "halted" and frames[-1]["t"] == halted["t"]  # it stays stopped
        growth_mb = (server.rss_kb() - before) / 1024
        print(f"\nhalted at t={halted['t']} with {halted['state']['totals']['in_system']} items; "
              f"RSS grew {growth_mb:.1f} MB")
        assert growth_mb < 20
        assert max(len(json.dumps(f)) for f in frames) < 8192
    finally:
        reader.close()


def test_a_session_created_paused_streams_from_an_unplayed_t0(make_server):
    server = make_server()
    session = server.create({"link": "preset=handbook", "paused": True})
    assert session["frame"]["status"] == "paused"
    time.sleep(0.3)  # longer than the whole run at 1x: nothing may happen while paused
    frames = [json.loads(e.data) for e in read_frames(session["stream_url"], 3) if e.event == "frame"]
    assert frames and [f["status"] for f in frames] == ["paused"] * 3
    assert all(f["t"] == 0 and f["state"]["totals"]["arrived"] == 0 for f in frames)
    server.control(session, {"action": "step"})
    stepped = json.loads(read_frames(session["stream_url"], 1)[0].data)
    assert stepped["status"] == "paused" and stepped["events"], stepped  # t = 0's first moment
