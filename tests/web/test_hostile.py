"""Hostile load against a real server process: one visitor must never slow the others.

Reproduces the outside review's findings: a link at the vocabulary's limits that
froze the server for good, and a governor that latched after many streams.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from server_helpers import KEEPALIVE_EXPIRY, StreamReader
from test_sandbox import FLOODING_LINK, FREEZING_LINK

NORMAL = 20


def _attack_in_child(attack, stop, out) -> None:
    out.put(attack(stop))


def hold_normal_streams(server, attack, seconds: float = 5.0) -> tuple[dict, list]:
    """Run ``attack(stop)`` in a child process for ``seconds`` beside 20 normal streams; every
    normal stream must keep 15 frames a second or more and /healthz answer within 500 ms
    throughout. Returns the figures and what ``attack`` returned (say, the statuses it got).

    The attack runs in its own process so that its threads do not hold this one's GIL: the
    timings here are then the server's, not the test's."""
    # Patiently: what ran before the attack (ten freezing runs, say) may still have the governor
    # shedding new sessions for a few seconds.
    normal = [server.create({"link": "preset=webhook-ingestion"}, patience=20) for _ in range(NORMAL)]
    readers = [StreamReader(s["stream_url"]) for s in normal]
    for reader in readers:
        reader.wait_started()
    time.sleep(1.0)  # settle in
    context = multiprocessing.get_context("fork")
    stop, out = context.Event(), context.Queue()
    attacker = context.Process(target=_attack_in_child, args=(attack, stop, out), daemon=True)
    attacker.start()
    time.sleep(0.5)  # the attack under way
    start = time.monotonic()
    health_times = []
    try:
        while time.monotonic() - start < seconds:
            asked = time.monotonic()
            response = httpx.get(server.url + "/healthz", timeout=5)
            health_times.append(time.monotonic() - asked)
            assert response.status_code == 200
            time.sleep(0.25)
        end = time.monotonic()
    finally:
        stop.set()
        try:
            answers = out.get(timeout=60)
        finally:
            attacker.join(5)
            for reader in readers:
                reader.close()
    rates = [sum(1 for at, sse in reader.events if sse.event == "frame" and start <= at <= end) / (end - start)
             for reader in readers]
    figures = {"fps_median": round(statistics.median(rates), 1), "fps_min": round(min(rates), 1),
               "healthz_worst_ms": round(max(health_times) * 1000)}
    print(f"beside the attack: {figures}")
    assert min(rates) >= 15, rates
    assert max(health_times) < 0.5, health_times
    return figures, answers


def _post(session: dict, body: dict, client: httpx.Client) -> httpx.Response:
    return client.post(session["control_url"], json=body,
                       headers={"Authorization": f"Bearer {session['token']}"})


def test_the_freezing_link_at_top_speed_slows_no_one_else(make_server):
    server = make_server()
    hostile = server.create({"link": FREEZING_LINK})
    hostile_reader = StreamReader(hostile["stream_url"])
    hostile_reader.wait_started()
    server.control(hostile, {"speed": 20})
    # Patiently: what ran before the attack (ten freezing runs, say) may still have the governor
    # shedding new sessions for a few seconds.
    normal = [server.create({"link": "preset=webhook-ingestion"}, patience=20) for _ in range(NORMAL)]
    readers = [StreamReader(s["stream_url"]) for s in normal]
    for reader in readers:
        reader.wait_started()
    time.sleep(1.0)  # settle in
    start = time.monotonic()
    health_times = []
    while time.monotonic() - start < 5.0:
        asked = time.monotonic()
        response = httpx.get(server.url + "/healthz", timeout=5)
        health_times.append(time.monotonic() - asked)
        assert response.status_code == 200
        time.sleep(0.25)
    end = time.monotonic()
    rates = [len(reader.frames(since=start)) / (end - start) for reader in readers]
    hostile_frames = hostile_reader.frames(since=start)
    for reader in readers + [hostile_reader]:
        reader.close()
    print(f"normal streams: median {statistics.median(rates):.1f} frames/s, min {min(rates):.1f}; "
          f"/healthz worst {max(health_times) * 1000:.0f} ms; hostile effective speed "
          f"{hostile_frames[-1]['effective_speed']}")
    assert min(rates) >= 15, rates
    # A frozen loop answers in seconds (before the fix: never); a busy shared machine can take
    # a loaded loop past 200 ms now and then (215 ms seen while another test run shared the CPUs).
    assert max(health_times) < 0.5, health_times
    # The hostile session falls behind real time and says so, rather than taking the server.
    assert hostile_frames and hostile_frames[-1]["throttled"] or hostile_frames[-1]["status"] == "halted"

    # It still stops promptly.
    asked = time.monotonic()
    server.signal(signal.SIGTERM)
    server.process.wait(timeout=10)
    assert time.monotonic() - asked < 3.0


def _open_stream_socket(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    return sock


def test_a_thousand_streams_opened_and_dropped_do_not_latch_the_governor(make_server):
    # Caps raised so that all 1,000 streams open (as they could before the caps existed). These
    # sockets never read: a long send timeout keeps them open (on a loaded machine the default
    # closed 155 of them within the 4 s), since what is tested is the governor, not the timeout.
    server = make_server(max_streams_per_session=2000, max_streams_per_client=2000, send_timeout=60)
    session = server.create({"link": "preset=webhook-ingestion"})
    path = session["stream"]
    sockets = []
    for _ in range(1000):
        sockets.append(_open_stream_socket(server.port, path))
    time.sleep(4.0)
    # (Starting 1,000 streams at once keeps the process busy for seconds: hence the caps.)
    assert httpx.get(server.url + "/healthz", timeout=30).json()["streams"] > 900
    for sock in sockets:
        sock.close()
    dropped = time.monotonic()
    admitted = None
    while time.monotonic() - dropped < 5.0:
        response = httpx.post(server.url + "/api/sessions", json={"link": "preset=handbook"}, timeout=5)
        if response.status_code == 201:
            admitted = time.monotonic() - dropped
            break
        assert response.status_code == 503, response.text
        time.sleep(0.2)
    assert admitted is not None, f"no new session within 5 s: {server.healthz()}"
    deadline = time.monotonic() + 5
    while server.healthz()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    health = server.healthz()
    print(f"admitted {admitted:.2f} s after dropping 1,000 streams; then {health}")
    assert health["streams"] == 0


def test_streams_per_session_and_per_client_are_capped(make_server):
    server = make_server(max_streams_per_session=2, max_streams_per_client=3)
    first, second = server.create(queue=5), server.create(queue=5)
    readers = [StreamReader(first["stream_url"]), StreamReader(first["stream_url"])]
    for reader in readers:
        reader.wait_started()
    response = httpx.get(first["stream_url"], timeout=5)
    assert response.status_code == 429 and "2" in response.json()["error"]
    readers.append(StreamReader(second["stream_url"]))
    readers[-1].wait_started()
    response = httpx.get(second["stream_url"], timeout=5)
    assert response.status_code == 429 and "address" in response.json()["error"]
    for reader in readers:
        reader.close()
    deadline = time.monotonic() + 5
    while server.healthz()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.healthz()["streams"] == 0


def test_bursts_on_a_halted_run_make_nothing_and_slow_no_one(make_server):
    # Before: nothing refused a burst once the run had halted, and each made its items anyway:
    # one session bursting 10,000 at its allowed rate took RSS from 42 to 1,687 MB in 30 s.
    server = make_server(max_items=2000)
    hostile = [server.create({"link": FLOODING_LINK}) for _ in range(4)]
    readers = [StreamReader(s["stream_url"]) for s in hostile]
    for reader in readers:
        reader.wait_for(lambda frame: frame["status"] == "halted", timeout=10)
    rss_before = server.rss_kb()

    def attack(stop):
        answers = []
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                for session in hostile:
                    answers.append(_post(session, {"action": "burst", "n": 10_000}, client).status_code)
                time.sleep(0.02)
        return answers

    _, answers = hold_normal_streams(server, attack)
    rss_after = server.rss_kb()
    for reader in readers:
        reader.close()
    print(f"{len(answers)} bursts on halted runs: {sorted(set(answers))}; RSS {rss_before // 1024} -> "
          f"{rss_after // 1024} MB")
    assert len(answers) > 100 and set(answers) <= {409, 429} and 409 in answers
    assert rss_after - rss_before < 40 * 1024, (rss_before, rss_after)
    for session in hostile:
        summary = httpx.get(server.url + session["control"].replace("/control", "/summary"), timeout=5).json()
        # At most one frame past the cap (a frame's end is rounded up to the next millisecond).
        assert summary["in_system"] <= 2000 + 2000 // 20 + 20, summary


def test_forks_are_paced_one_budget_a_frame_and_slow_no_one(make_server):
    # Before: a fork replayed the whole run as fast as the loop allowed, and could be repeated:
    # ten sessions forking four times each held 20 normal streams to 2.5 fps for 70 s.
    server = make_server()
    hostile = [server.create({"link": FREEZING_LINK}) for _ in range(10)]
    readers = [StreamReader(s["stream_url"]) for s in hostile]
    for reader in readers:
        reader.wait_started()
    time.sleep(1.5)  # about 30 budgets of work each: a fork may replay that, paced
    with httpx.Client(timeout=10) as client:  # paused, they cost nothing but their forks
        for session in hostile:
            assert _post(session, {"action": "pause"}, client).status_code == 200

    def attack(stop):
        answers = []
        client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=40, keepalive_expiry=KEEPALIVE_EXPIRY))

        def fork(session):
            answer = _post(session, {"compare": "fork"}, client)
            answers.append(answer.status_code)
            if answer.status_code == 200:
                _post(session, {"compare": "stop"}, client)
        with ThreadPoolExecutor(40) as pool:
            while not stop.is_set():
                list(pool.map(fork, hostile * 4))
        return answers
    figures, answers = hold_normal_streams(server, attack, seconds=8.0)
    for reader in readers:
        reader.close()
    print(f"{len(answers)} forks: " + ", ".join(f"{answers.count(c)} x {c}" for c in sorted(set(answers))))
    # Forks are admitted a few at a time (the rest: another replays in this session (409), or the
    # process runs its most at once (503)), and a run that grew past what a fork may replay: 422.
    assert answers and set(answers) <= {200, 409, 422, 429, 503}, answers
    assert 200 in answers or 422 in answers
    assert figures["fps_min"] >= 15


def test_a_room_flooded_by_a_hundred_addresses_slows_no_one(make_server):
    # A room whose class may send, flooded from 100 addresses, each pressing 4 times a second (4
    # times what a student may), with a made-up id as often and a guessed code, until its run halts
    # at the item cap: presses are refused (a halted run makes nothing; before, 100 addresses sent a
    # halted room to 337,340 items), and the rest slow no one.
    server = make_server(max_items=3000, forwarded_allow_ips="127.0.0.1")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        room = client.post("/api/rooms", json={"link": "rate=200&queue=0&workers=1&limit=1&service_time=1"}).json()
        code = room["code"]
        teacher = {"Authorization": f"Bearer {room['session']['token']}"}
        assert client.post(f"/api/rooms/{code}/control", json={"allow_send": True}, headers=teacher).status_code == 200
    viewer = StreamReader(server.url + f"/api/rooms/{code}/stream")
    viewer.wait_started()

    def attack(stop):
        answers = []
        client = httpx.Client(base_url=server.url, timeout=10, limits=httpx.Limits(max_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY))

        def student(n):
            address = {"X-Forwarded-For": f"10.1.{n // 250}.{n % 250 + 1}"}
            joined = client.post(f"/api/rooms/{code}/join", json={}, headers=address)
            me = joined.json().get("student") if joined.status_code == 201 else "made-up-000000"
            while not stop.wait(0.25):
                answers.append(client.post(f"/api/rooms/{code}/send", json={"student": me},
                                           headers=address).status_code)
                answers.append(client.post(f"/api/rooms/{code}/send", json={"student": f"made-up-{n:06d}"},
                                           headers=address).status_code)
                answers.append(client.get(f"/r/ZZZZ{n % 10}{n % 7}", headers=address).status_code)
        with ThreadPoolExecutor(100) as pool:
            list(pool.map(student, range(100)))
        return answers

    _, answers = hold_normal_streams(server, attack, seconds=8.0)
    last = viewer.frames()[-1]
    viewer.close()
    held = last["state"]["totals"]["in_system"] if "state" in last else None
    print(f"{len(answers)} room requests: " + ", ".join(f"{answers.count(c)} x {c}" for c in sorted(set(answers)))
          + f"; the room holds {held} items")
    assert set(answers) <= {200, 403, 404, 409, 422, 429}, set(answers)
    assert answers.count(200) > 0 and (409 in answers or 422 in answers)
    summary = httpx.get(server.url + room["session"]["control"].replace("/control", "/summary"), timeout=5).json()
    assert summary["in_system"] <= 3000 + 3000 // 10, summary


#: A link the sweep can draw (capacity 40 items/s), quick enough per point.
SWEEPABLE = "v=1&rate=30&workers=2&limit=2&service_time=0.05&queue=5&policy=reject"


def _sweep_view(session: dict) -> dict:
    return httpx.get(session["control_url"].replace("/control", "/sweep"), timeout=5).json()


def _start_sweep(session: dict) -> httpx.Response:
    return httpx.post(session["control_url"], json={"sweep": "start"}, timeout=10,
                      headers={"Authorization": f"Bearer {session['token']}"})


def _create_from(server, address: str, link: str) -> dict:
    """A session created by ``address`` (a trusted proxy's X-Forwarded-For): a session's address is its creator's."""
    response = httpx.post(server.url + "/api/sessions", json={"link": link}, timeout=5,
                          headers={"X-Forwarded-For": address})
    assert response.status_code == 201, response.text
    session = response.json()
    session["control_url"] = server.url + session["control"]
    return session


def test_start_cancel_pairs_do_not_leak_the_sweep_queue(make_server):
    # Two {"sweep": "start"} at once on one session: the second cancels the first before its task
    # first runs. Each such sweep used to stay counted as waiting; after 40 pairs every start was
    # refused with "4 are waiting" while the worker sat idle.
    server = make_server(control_burst=200)
    hostile = server.create({"link": SWEEPABLE})
    headers = {"Authorization": f"Bearer {hostile['token']}"}

    async def pairs():
        async with httpx.AsyncClient(headers=headers, timeout=10) as client:
            statuses = []
            for _ in range(40):
                answers = await asyncio.gather(*[client.post(hostile["control_url"], json={"sweep": "start"})
                                                 for _ in range(2)])
                statuses += [answer.status_code for answer in answers]
            return statuses

    statuses = asyncio.run(pairs())
    assert set(statuses) == {200}, statuses
    server.control(hostile, {"sweep": "cancel"})
    other = server.create({"link": SWEEPABLE + "&seed=2"})
    response = _start_sweep(other)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 60
    while (view := _sweep_view(other))["done"] < 1:
        assert time.monotonic() < deadline and view["status"] in ("queued", "running"), view
        time.sleep(0.2)
    assert view["status"] == "running"
    server.control(other, {"sweep": "cancel"})


def test_one_address_cannot_hold_the_sweep_queue(make_server):
    # One address queueing five slow sweeps (about 14 minutes of the only worker) used to leave
    # everyone else 503 "busy"; now its second sweep is refused and another address's is admitted.
    server = make_server(forwarded_allow_ips="127.0.0.1")
    first, second = (_create_from(server, "192.0.2.1", SWEEPABLE + f"&seed={seed}") for seed in (1, 2))
    theirs = _create_from(server, "198.51.100.7", SWEEPABLE + "&seed=3")
    assert _start_sweep(first).status_code == 200
    refused = _start_sweep(second)
    assert refused.status_code == 429, refused.text
    assert "the most one address may (1)" in refused.json()["error"] and refused.json()["field"] == "sweep"
    admitted = _start_sweep(theirs)
    assert admitted.status_code == 200, admitted.text
    assert _sweep_view(theirs)["status"] in ("queued", "running")
    for session in (first, theirs):
        server.control(session, {"sweep": "cancel"})


def test_links_with_logs_and_moments_are_paced_and_slow_no_one(make_server):
    """Issue 22's new paths under attack: sessions opened at a late moment of the heaviest preset
    (each rebuilt by replay), Continue from here sent as fast as allowed, and links whose log
    bursts 10,000 items 200 times at one instant, all beside 20 normal streams (one continue in
    three is a Fork B from that moment: two sides rebuilt). Replays are paced
    (a few budgets a frame), at most two at once (503 past it), and refused past their work cap
    (422); scripted bursts pass the item cap as live ones do."""
    server = make_server(max_items=20_000, max_sessions_per_client=200)
    bursts = ",".join("1:burst=10000" for _ in range(200))

    def attack(stop):
        answers = []
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY))

        def open_late(n):
            link = f"preset=retry-storm&seed={n}&do=5:hiccup=5x3&at={60 + n}"
            response = client.post(server.url + "/api/sessions", json={"link": link})
            answers.append(("at", response.status_code))
            if response.status_code == 201:
                session = response.json()
                session["control_url"] = server.url + session["control"]
                for body in ({"continue_from": 30}, {"continue_from": 30, "compare": "fork"}, {"continue_from": 20}):
                    answers.append(("continue", _post(session, body, client).status_code))
                client.delete(server.url + f"/api/sessions/{session['id']}",
                              headers={"Authorization": f"Bearer {session['token']}"})

        def open_bursts(n):
            response = client.post(server.url + "/api/sessions", json={"link": f"rate=10&queue=0&do={bursts}"})
            answers.append(("bursts", response.status_code))
        with ThreadPoolExecutor(12) as pool:
            n = 0
            while not stop.is_set():
                list(pool.map(open_late, range(n, n + 8)))
                list(pool.map(open_bursts, range(4)))
                n += 8
        return answers
    figures, answers = hold_normal_streams(server, attack, seconds=8.0)
    codes = sorted(set(answers))
    print(f"{len(answers)} requests: " + ", ".join(f"{answers.count(c)} x {c}" for c in codes) + f"; {figures}")
    assert answers and {code for _, code in answers} <= {200, 201, 409, 422, 429, 503}, codes
    assert ("at", 201) in answers
    assert figures["fps_min"] >= 15
    health = server.healthz()
    assert health["sessions"] <= 200 + NORMAL
