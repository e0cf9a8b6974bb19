"""Regression tests for the outside review's reliability findings (in-process).

The ones that need a real server (freezing link, governor latch, stream caps,
slow clients) are in test_hostile.py and test_serving.py.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
from app_client import auth, control, create, metric


def session_of(client, created):
    return client.app.state.manager.sessions[created["id"]]


def test_a_refused_control_changes_nothing_even_when_part_of_it_was_valid(make_client):
    client = make_client()
    created = create(client, {"items": 5, "rate": 100, "service_time": 0.001})
    session = session_of(client, created)
    session.engine.run()  # the run is over: bursts are refused
    assert session.engine.finished
    response = client.post(created["control"], json={"set": {"queue": 7}, "action": "burst", "n": 5},
                           headers=auth(created))
    assert response.status_code == 422 and "draining or finished" in response.json()["error"]
    assert session.engine.scenario.queue == 20 and not session.engine.control_log
    # ... and so does a body whose set is bad while its speed is fine.
    response = client.post(created["control"], json={"set": {"queue": -1}, "speed": 5},
                           headers=auth(created))
    assert response.status_code == 422 and response.json()["field"] == "queue"
    assert session.speed == 1.0


def test_a_session_nobody_watches_does_not_run_even_when_controlled(make_client):
    client = make_client()
    created = create(client, {"items": 5, "rate": 100, "service_time": 0.001})
    time.sleep(0.3)
    result = control(client, created, {"set": {"queue": 7}, "action": "burst", "n": 5})
    assert result["t"] == 0 and result["scenario"]["queue"] == 7
    assert session_of(client, created).engine.now == 0


def test_refused_controls_count_as_4xx_in_metrics_never_500(make_client):
    client = make_client()
    created = create(client, {})
    control(client, created, {"set": {"queue": -1}}, expect=422)  # a ScenarioError inside
    control(client, created, {"set": {"seed": 3}}, expect=422)
    control(client, created, {"speed": 2})
    text = client.get("/metrics").text
    assert metric(text, 'playground_control_requests_total{status="422"}') == 2
    assert metric(text, 'playground_control_requests_total{status="200"}') == 1
    assert 'status="500"' not in text


def test_setting_v_says_what_v_is(make_client):
    client = make_client()
    created = create(client, {})
    error = control(client, created, {"set": {"v": 1}}, expect=422)["error"]
    assert "version" in error and "Did you mean" not in error


def test_duplicate_json_keys_are_refused_like_duplicate_link_keys(make_client):
    client = make_client()
    response = client.post("/api/sessions", content=b'{"queue": 5, "queue": 7}')
    assert response.status_code == 400 and "'queue' appears twice" in response.json()["error"]
    created = create(client, {})
    response = client.post(created["control"], content=b'{"speed": 2, "speed": 3}', headers=auth(created))
    assert response.status_code == 400


def test_bodies_must_be_json_from_this_site(make_client):
    client = make_client()
    response = client.post("/api/sessions", content=b'{}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    response = client.post("/api/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    response = client.post("/api/sessions", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    response = client.post("/api/sessions", json={},
                           headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 201
    # sendBeacon's close may come as text/plain from the page itself.
    created = response.json()
    response = client.post(f"/api/sessions/{created['id']}/close", content=json.dumps(
        {"token": created["token"]}), headers={"Content-Type": "text/plain", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 204


def test_a_429_never_says_try_again_in_zero_seconds(make_client):
    client = make_client(control_burst=1, control_rate=100)
    created = create(client, {})
    control(client, created, {"speed": 2})
    response = client.post(created["control"], json={"speed": 2}, headers=auth(created))
    assert response.status_code == 429
    assert "0.0 s" not in response.json()["error"] and "try again in 0.1 s" in response.json()["error"]


def test_errors_never_echo_a_huge_key(make_client):
    client = make_client()
    created = create(client, {})
    key = "k" * 3000
    for body in ({key: 1}, {"set": {key: 1}}):
        response = client.post(created["control"], json=body, headers=auth(created))
        assert response.status_code == 422
        assert len(response.text) < 700, response.text


def test_a_client_that_disconnects_mid_body_is_no_error(make_server):
    """Logged as INFO, not an ERROR with a traceback (the fixture checks the log)."""
    server = make_server()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"queue\"")
        time.sleep(0.2)
    time.sleep(0.5)
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert "went away" in server.log()
    text = httpx.get(server.url + "/metrics").text
    assert 'status="500"' not in text
