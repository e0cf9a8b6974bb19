"""Hostile links: a long query must cost a few ms and a short answer, never the event loop.

Reproduces the adversarial pass: 6,000 unknown keys (47 KB) on ``GET /`` held the loop about
1 s and answered 2.4 MB of errors; ``b.x=1`` 10,000 times answered 1.4 MB; four clients doing it
dropped 20 normal streams to 2.7-5.8 fps and ``/healthz`` to 2.2 s.
"""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import pytest
from server_helpers import StreamReader
from app_client import boot_data, create

from playground.model.compare import SHARED
from playground.model.scenario import FIELDS, MAX_LINK_CHARS, MAX_LINK_KEYS, Scenario
from playground.web.app import link_verdict

UNKNOWN_6000 = "&".join(f"k{i}=1" for i in range(6000))
B_X_10000 = "&".join(["b.x=1"] * 10000)
#: Bad keys at both caps at once: 100 keys, just under 8,192 characters.
AT_CAP = "&".join(f"{'k' * 74}{i:04d}=1" for i in range(MAX_LINK_KEYS))
NORMAL = 20


def test_the_longest_real_link_is_well_inside_the_caps():
    # Every key set on A, at its longest value, and every key B may have on B.
    def longest(field):
        return max((str(c) for c in field.choices), key=len) if field.choices else str(field.maximum)
    a = [f"{key}={longest(field)}" for key, field in FIELDS.items()]
    b = [f"b.{key}={longest(field)}" for key, field in FIELDS.items() if key not in SHARED]
    link = "&".join(["v=1", "preset=webhook-ingestion", *a, *b])
    assert len(link) < MAX_LINK_CHARS / 4 and link.count("&") + 1 < MAX_LINK_KEYS
    assert AT_CAP.count("&") + 1 == MAX_LINK_KEYS and len(AT_CAP) <= MAX_LINK_CHARS


@pytest.mark.parametrize("path", ["/", "/present", "/lesson/handbook-in-fifteen-minutes", "/api/scenario",
                                  "/api/code/3.13", "/api/code/3.13/program.py"])
@pytest.mark.parametrize("query, words", [
    (UNKNOWN_6000, "the query is 46,889 characters long; a link may be at most 8,192."),
    ("&".join(["x"] * 101), "the query has 101 keys; a link may have at most 100."),
    (B_X_10000, "the query is 59,999 characters long; a link may be at most 8,192."),
])
def test_a_query_past_the_caps_is_refused_before_it_is_parsed(make_client, path, query, words):
    response = make_client().get(path + "?" + query)
    assert response.status_code == 414
    assert response.json() == {"error": words, "field": "query"}
    assert response.headers["x-content-type-options"] == "nosniff"  # still behind the security headers


def test_a_body_link_past_the_caps_is_413(make_client):
    client = make_client()
    response = client.post("/api/sessions", json={"link": "&".join(["b.x=1"] * 101)})
    assert response.status_code == 413
    assert response.json()["error"] == "the link has 101 keys; a link may have at most 100."
    session = create(client, {"link": "v=1&preset=handbook"})
    response = client.post(session["control"], json={"open": "&".join(["queue=1"] * 200)},
                           headers={"Authorization": f"Bearer {session['token']}"})
    assert response.status_code == 413 and response.json()["field"] == "open"


def test_a_page_at_the_caps_reports_three_errors_and_counts_the_rest(make_client):
    response = make_client().get("/?" + AT_CAP)
    assert response.status_code == 200
    verdict = boot_data(response)["verdict"]
    assert len(verdict["errors"]) == 3 and verdict["more_errors"] == 97
    assert verdict["link"] == "v=1"
    assert response.text.count("known keys:") == 1  # the list once, not once per key
    plain = make_client().get("/?v=1")
    assert len(response.content) < len(plain.content) + 2000  # before: 97 KB at this size, 2.4 MB at 6,000 keys


@pytest.mark.parametrize("query", [
    AT_CAP,
    "&".join(f"b.{'k' * 74}{i:02d}=1" for i in range(MAX_LINK_KEYS)),
    "&".join(f"b.queue={i}" for i in range(MAX_LINK_KEYS)),
    "&".join(f"k{i}=1" for i in range(MAX_LINK_KEYS)),
    # Every key B may have, five times: the most Scenarios a verdict builds.
    "&".join(f"b.{key}={i}" for i in range(5) for key in FIELDS if key not in SHARED)[:MAX_LINK_CHARS],
])
def test_a_verdict_at_the_caps_takes_a_few_ms(query):
    query = "&".join(query.split("&")[:MAX_LINK_KEYS])
    best = min(_timed(link_verdict, query) for _ in range(5))
    assert best < 0.02, f"{best * 1000:.1f} ms"  # measured 1 to 7 ms; before: 100 to 200 ms at this size


def test_the_verdict_still_names_bad_b_keys_and_keeps_good_ones():
    verdict = link_verdict("v=1&queue=5&b.queue=9&b.x=1&b.queue=3&b.policy=drop-oldest")
    assert verdict["link"] == "v=1&queue=5&b.policy=drop-oldest"  # b.queue, given twice, left out whole
    assert [e["field"] for e in verdict["errors"]] == ["b.queue", "b.x"] and verdict["more_errors"] == 0
    assert Scenario.from_link("queue=5").queue == 5


def _timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def test_four_clients_of_hostile_queries_slow_no_one_else(make_server):
    server = make_server()
    normal = [server.create({"link": "preset=webhook-ingestion"}) for _ in range(NORMAL)]
    readers = [StreamReader(s["stream_url"]) for s in normal]
    for reader in readers:
        reader.wait_started()
    stop = threading.Event()
    answered: list[tuple[int, int, float]] = []  # (status, bytes, seconds) of each hostile request

    def attack(query: str):
        # 10 requests a second each: ten times what the reproduction's four clients managed (each
        # request held the loop 1 to 2.6 s). Unpaced, four loops of the plain default page drop
        # the streams to about 9 fps as well: that is a flood of page renders, not of parsing.
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                asked = time.monotonic()
                response = client.get(server.url + "/?" + query)
                answered.append((response.status_code, len(response.content), time.monotonic() - asked))
                stop.wait(max(0.0, 0.1 - (time.monotonic() - asked)))

    attackers = [threading.Thread(target=attack, args=(query,), daemon=True)
                 for query in (UNKNOWN_6000, B_X_10000, AT_CAP, AT_CAP)]
    time.sleep(1.0)  # settle in
    for thread in attackers:
        thread.start()
    start = time.monotonic()
    health_times = []
    while time.monotonic() - start < 5.0:
        asked = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        health_times.append(time.monotonic() - asked)
        time.sleep(0.25)
    end = time.monotonic()
    stop.set()
    for thread in attackers:
        thread.join(10)
    rates = [len(reader.frames(since=start)) / (end - start) for reader in readers]
    for reader in readers:
        reader.close()
    worst = max(seconds for _, _, seconds in answered)
    print(f"{len(answered)} hostile requests, median {statistics.median(s for _, _, s in answered) * 1000:.1f} ms, "
          f"worst {worst * 1000:.0f} ms, largest answer {max(size for _, size, _ in answered):,} B; normal streams: "
          f"median {statistics.median(rates):.1f} frames/s, min {min(rates):.1f}; "
          f"/healthz worst {max(health_times) * 1000:.0f} ms")
    assert {status for status, _, _ in answered} <= {200, 414}
    # A hostile query's answer is the page (about 60 KB with every control) and little more: what
    # it asked for is refused, not echoed back at length.
    plain = len(httpx.get(server.url + "/", timeout=5).content)
    assert max(size for _, size, _ in answered) < plain + 4_000, plain
    assert min(rates) >= 15, rates
    # The reproduction's requests held the loop 1 to 2.6 s each. One /healthz sample can wait half a
    # second on this shared two-core machine for reasons of its own (a new connection from a test
    # process of 25 threads; CI saw 532 ms once while the streams kept 20 fps and the worst hostile
    # request took 252 ms), so the typical answer is held to 100 ms and the worst to a second.
    assert statistics.median(health_times) < 0.1, health_times
    assert max(health_times) < 1.0, health_times
