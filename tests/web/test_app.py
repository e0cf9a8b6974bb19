"""Tests for the web app (playground/app.py) in-process, through Starlette's TestClient.

Endless streams are tested against a real server (test_server.py): TestClient runs
the app to completion before it returns a response, so here a stream is only read
when it ends by itself (a session that reaches its lifetime).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from playground.model.presets import PRESETS
from playground.model.scenario import FIELDS, Scenario, ScenarioError
from playground.teach.lessons import claims_for

from app_client import auth, boot_data, control, create, metric  # noqa: F401 (used below)

NEVER_500 = {200, 201, 400, 403, 404, 410, 413, 422, 429, 503}


def scenario_error(mapping: dict) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_mapping(mapping)
    return caught.value


# Creating sessions -------------------------------------------------------------------------------


def test_create_session_from_a_mapping(make_client):
    client = make_client()
    response = client.post("/api/sessions", json={"policy": "reject", "queue": "5"})
    assert response.status_code == 201
    data = response.json()
    session_id = data["id"]
    assert len(session_id) >= 22  # secrets.token_urlsafe(16): 128 bits
    assert re.fullmatch(r"[A-Za-z0-9_-]+", session_id)
    assert len(data["token"]) >= 22 and data["token"] != session_id
    assert data["scenario"] == Scenario.from_link("queue=5&policy=reject").to_dict()
    assert data["scenario"]["queue"] == 5  # normalized: "5" became a number
    assert data["link"] == "v=1&queue=5&policy=reject"
    assert data["stream"] == f"/api/sessions/{session_id}/stream"
    assert data["control"] == f"/api/sessions/{session_id}/control"
    assert response.headers["location"] == f"/api/sessions/{session_id}"


def test_create_session_from_a_link(make_client):
    client = make_client()
    by_query = create(client, {"link": "queue=5&policy=reject"})
    by_url = create(client, {"link": "http://127.0.0.1:8000/?policy=reject&queue=5"})
    by_preset = create(client, {"link": "preset=handbook"})
    assert by_query["link"] == by_url["link"] == "v=1&queue=5&policy=reject"
    assert by_query["scenario"] == by_url["scenario"]
    assert by_preset["scenario"] == Scenario.from_preset("handbook").to_dict()
    assert by_preset["link"] == "v=1&preset=handbook"


def test_ids_and_tokens_are_unique(make_client):
    client = make_client()
    sessions = [create(client) for _ in range(10)]
    secrets_ = [s["id"] for s in sessions] + [s["token"] for s in sessions]
    assert len(set(secrets_)) == 20


@pytest.mark.parametrize("body, field", [
    ({"queue": -1}, "queue"),
    ({"policy": "sometimes"}, "policy"),
    ({"queue": 5, "qeueu": 1}, "qeueu"),
    ({"workers": 1.5}, "workers"),
])
def test_bad_scenario_is_422_with_the_sentence_and_field(make_client, body, field):
    client = make_client()
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 422
    expected = scenario_error(body)
    assert response.json() == {"error": str(expected), "field": field}
    assert expected.field == field


def test_bad_link_is_422_with_the_sentence_and_field(make_client):
    client = make_client()
    response = client.post("/api/sessions", json={"link": "queue=5&rate=0"})
    assert response.status_code == 422
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_link("queue=5&rate=0")
    assert response.json() == {"error": str(caught.value), "field": "rate"}


@pytest.mark.parametrize("content", [
    b"{not json", b"", b"[1, 2]", b'"queue=5"', b"\xff\xfe", b'{"link": 5}', b'{"link": "queue=5", "rate": 3}',
])
def test_malformed_body_is_400(make_client, content):
    client = make_client()
    response = client.post("/api/sessions", content=content,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_body_over_4096_bytes_is_413(make_client):
    client = make_client()
    big = {"link": "queue=5&" + "x" * 5000}
    response = client.post("/api/sessions", json=big)
    assert response.status_code == 413
    assert "4096" in response.json()["error"]

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"link": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    response = client.post("/api/sessions", content=chunks())
    assert response.status_code == 413
    # Exactly at the limit is accepted (and then judged as JSON).
    at_limit = b'{"queue": 5' + b" " * (4096 - 12) + b"}"
    assert len(at_limit) == 4096
    assert client.post("/api/sessions", content=at_limit).status_code == 201


# Controls -----------------------------------------------------------------------------------------


def test_control_answers_with_the_new_scenario_and_link(make_client):
    client = make_client()
    session = create(client)
    result = control(client, session, {"set": {"queue": 5, "policy": "reject"}})
    assert result["scenario"]["queue"] == 5 and result["scenario"]["policy"] == "reject"
    # A change before the run has moved is its start: a key, not a do= entry.
    assert result["link"] == "v=1&queue=5&policy=reject"
    result = control(client, session, {"action": "pause", "speed": 2.5})
    assert result["paused"] is True and result["speed"] == 2.5 and result["status"] == "paused"
    result = control(client, session, {"action": "burst", "n": 3})
    assert result["scenario"]["queue"] == 5
    result = control(client, session, {"action": "resume"})
    assert result["paused"] is False


@pytest.mark.parametrize("body, field", [
    ({"sett": {"queue": 5}}, "sett"),
    ({"action": "pause", "colour": "red"}, "colour"),
])
def test_unknown_control_key_is_422_naming_it(make_client, body, field):
    client = make_client()
    session = create(client)
    response = client.post(session["control"], json=body, headers=auth(session))
    assert response.status_code == 422
    data = response.json()
    assert data["field"] == field
    assert repr(field) in data["error"]


def test_wrong_token_is_403_and_missing_token_401(make_client):
    client = make_client()
    session = create(client)
    other = create(client)
    url = session["control"]
    wrong = client.post(url, json={"action": "pause"}, headers=auth(other))
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "that token does not control this session."}
    missing = client.post(url, json={"action": "pause"})
    assert missing.status_code == 401
    assert "Bearer" in missing.json()["error"]
    basic = client.post(url, json={"action": "pause"}, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    # The id is not the token: knowing it lets you watch, not drive.
    as_id = client.post(url, json={"action": "pause"}, headers={"Authorization": f"Bearer {session['id']}"})
    assert as_id.status_code == 403
    # None of them changed anything.
    assert control(client, session, {"action": "resume"})["paused"] is False


def test_unknown_session_is_404(make_client):
    client = make_client()
    base = "/api/sessions/no-such-session"
    headers = {"Authorization": "Bearer x"}
    responses = [
        client.get(base + "/stream"),
        client.post(base + "/control", json={"action": "pause"}, headers=headers),
        client.delete(base, headers=headers),
        client.post(base + "/close", json={"token": "x"}),
    ]
    for response in responses:
        assert response.status_code == 404
        assert response.json() == {"error": "there is no session with that id; start a new one."}


def test_ended_session_is_410_with_the_sentence(make_client):
    client = make_client()
    session = create(client)
    assert client.delete(f"/api/sessions/{session['id']}", headers=auth(session)).status_code == 204
    gone = {"error": "the page closed this session."}
    stream = client.get(session["stream"])
    assert stream.status_code == 410 and stream.json() == gone
    ctl = client.post(session["control"], json={"action": "pause"}, headers=auth(session))
    assert ctl.status_code == 410 and ctl.json() == gone
    again = client.delete(f"/api/sessions/{session['id']}", headers=auth(session))
    assert again.status_code == 410


@pytest.mark.parametrize("bad, field", [
    ({"set": {"queue": -1}}, "queue"),
    ({"set": {"queue": 7, "colour": 1}}, "colour"),
    ({"set": {"queue": 7, "workers": 0}}, "workers"),
    ({"set": {"queue": 7}, "speed": 50}, "speed"),
    ({"set": {"queue": 7}, "speed": 0}, "speed"),
    ({"set": {"queue": 7}, "speed": True}, "speed"),
    ({"set": {"queue": 7}, "action": "fly"}, "action"),
    ({"set": {"queue": 7}, "n": 5}, "n"),
    ({"set": {"queue": 7}, "action": "burst", "n": 0}, "n"),
    ({"set": {"queue": 7}, "action": "burst", "n": 2.5}, "n"),
    ({"set": {"queue": 7}, "bogus": 1}, "bogus"),
    ({"set": {}}, "set"),
    ({"set": "queue=7"}, "set"),
    ({"set": {"queue": 7}, "action": "hiccup", "factor": 0.5, "seconds": 3}, "factor"),
    ({"set": {"queue": 7}, "action": "hiccup", "factor": 5}, "seconds"),
    ({"set": {"queue": 7}, "factor": 5, "seconds": 3}, "factor"),
    ({"set": {"queue": 7}, "action": "burst", "seconds": 3}, "seconds"),
])
def test_an_invalid_control_changes_nothing(make_client, bad, field):
    client = make_client()
    session = create(client, {"queue": 5})
    before = control(client, session, {"speed": 2})
    response = client.post(session["control"], json=bad, headers=auth(session))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    after = control(client, session, {"action": "resume"})  # a valid control shows the state
    assert after["scenario"] == before["scenario"]
    assert after["scenario"]["queue"] == 5
    assert after["link"] == before["link"] == "v=1&queue=5"
    assert after["speed"] == 2.0


def test_a_hiccup_control_slows_the_downstream_and_frames_say_so(make_client):
    client = make_client()
    session = create(client, {"link": "rate=20&capacity=4"})
    control(client, session, {"action": "hiccup", "factor": 5, "seconds": 3})
    manager = client.app.state.manager
    engine = manager.get(session["id"]).engine
    assert engine.hiccup_factor == 5.0 and engine.hiccup_until == pytest.approx(engine.now + 3)
    from playground.web.frames import snapshot
    assert snapshot(engine)["downstream"]["hiccup"] == [5.0, 3.0]


@pytest.mark.parametrize("body", [[1], "pause", 5, None, {}])
def test_a_control_that_is_not_an_object_is_refused(make_client, body):
    client = make_client()
    session = create(client)
    response = client.post(session["control"], content=json.dumps(body), headers=auth(session))
    assert response.status_code == 422
    assert "JSON object" in response.json()["error"]


def test_controls_are_rate_limited_with_retry_after(make_client):
    client = make_client(control_burst=3, control_rate=0.5)
    session = create(client)
    for _ in range(3):
        control(client, session, {"action": "pause"})
    limited = client.post(session["control"], json={"action": "pause"}, headers=auth(session))
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    assert limited.json()["error"].startswith("too many control requests")
    # Per session: another session is not limited.
    other = create(client)
    control(client, other, {"action": "pause"})


def test_the_session_cap_is_503_with_retry_after(make_client):
    client = make_client(max_sessions=2)
    first = create(client)
    create(client)
    full = client.post("/api/sessions", json={})
    assert full.status_code == 503
    assert int(full.headers["retry-after"]) > 0
    assert full.json()["error"] == "the playground is full (2 sessions); try again shortly."
    # Ending one makes room.
    client.delete(f"/api/sessions/{first['id']}", headers=auth(first))
    create(client)
    assert metric(client.get("/metrics").text, 'playground_sessions_refused_total{reason="full"}') == 1


def test_the_per_client_cap_is_503_with_retry_after(make_client):
    client = make_client(max_sessions_per_client=2)
    create(client)
    create(client)
    refused = client.post("/api/sessions", json={})
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) > 0
    assert "this address already runs 2 sessions" in refused.json()["error"]
    text = client.get("/metrics").text
    assert metric(text, 'playground_sessions_refused_total{reason="per_client"}') == 1
    assert metric(text, 'playground_sessions_refused_total{reason="full"}') == 0


def test_delete_with_token_ends_the_session(make_client):
    client = make_client()
    session = create(client)
    url = f"/api/sessions/{session['id']}"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/healthz").json()["sessions"] == 1
    response = client.delete(url, headers=auth(session))
    assert response.status_code == 204 and response.content == b""
    assert client.get("/healthz").json()["sessions"] == 0
    assert client.get(session["stream"]).status_code == 410


def test_close_with_the_token_in_the_body(make_client):
    client = make_client()
    session = create(client)
    close = f"/api/sessions/{session['id']}/close"
    assert client.post(close, json={"token": "wrong"}).status_code == 403
    assert client.post(close, json={}).status_code == 403
    assert client.post(close, json={"token": 5}).status_code == 403
    # sendBeacon sends text/plain; the body is still JSON.
    response = client.post(close, content=json.dumps({"token": session["token"]}),
                           headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status_code == 204
    assert client.post(session["control"], json={"action": "pause"}, headers=auth(session)).status_code == 410


# Read-only endpoints -------------------------------------------------------------------------------


def test_presets_lists_every_preset(make_client):
    client = make_client()
    response = client.get("/api/presets")
    assert response.status_code == 200
    listed = response.json()
    assert [p["name"] for p in listed] == list(PRESETS)
    for entry in listed:
        preset = PRESETS[entry["name"]]
        claims = [{"sentence": c.sentence, "depends_on": list(c.depends_on)} for c in claims_for(preset.name)]
        assert entry == {"name": preset.name, "title": preset.title, "notice": preset.notice,
                         "link": f"v=1&preset={preset.name}", "claims": claims,
                         "try_this": [{"label": label, "set": changes} if isinstance(changes, dict)
                                      else {"label": label, "open": changes}
                                      for label, changes in preset.try_this]}
        assert entry["title"] and entry["notice"]
        assert client.get("/api/scenario?" + entry["link"]).status_code == 200


def test_scenario_normalizes_a_link(make_client):
    client = make_client()
    response = client.get("/api/scenario?policy=reject&queue=5")
    assert response.status_code == 200
    assert response.json() == {"scenario": Scenario.from_link("queue=5&policy=reject").to_dict(),
                               "link": "v=1&queue=5&policy=reject"}
    assert client.get("/api/scenario").json()["link"] == "v=1"


def test_scenario_refuses_a_bad_link_naming_the_field(make_client):
    client = make_client()
    response = client.get("/api/scenario?queue=-1")
    assert response.status_code == 422
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_link("queue=-1")
    assert response.json() == {"error": str(caught.value), "field": "queue"}
    assert "queue" in response.json()["error"]


def test_healthz(make_client):
    client = make_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"status", "sessions", "streams", "tick_lateness", "frame_rate", "overloaded",
                         "cpu", "loop_lag_p90_ms"}
    assert data["status"] == "ok" and data["sessions"] == 0 and data["streams"] == 0
    assert data["frame_rate"] == 20.0 and data["overloaded"] is False
    assert set(data["tick_lateness"]) == {"p50_ms", "p99_ms", "max_ms"}
    create(client)
    assert client.get("/healthz").json()["sessions"] == 1


def test_metrics_in_prometheus_format(make_client):
    client = make_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in ["playground_sessions", "playground_streams", "playground_frames_sent_total",
                 "playground_late_ticks_total"]:
        assert metric(text, name) == 0
    for reason in ("full", "per_client"):
        assert metric(text, f'playground_sessions_refused_total{{reason="{reason}"}}') == 0
    assert "# TYPE playground_control_requests_total counter" in text

    session = create(client)
    control(client, session, {"action": "pause"})
    control(client, session, {"action": "resume"})
    client.post(session["control"], json={"speed": 99}, headers=auth(session))
    client.post(session["control"], json={"action": "pause"})  # 401
    client.post(session["control"], json={"action": "pause"}, headers={"Authorization": "Bearer x"})
    text = client.get("/metrics").text
    assert metric(text, "playground_sessions") == 1
    assert metric(text, 'playground_control_requests_total{status="200"}') == 2
    assert metric(text, 'playground_control_requests_total{status="422"}') == 1
    assert metric(text, 'playground_control_requests_total{status="401"}') == 1
    assert metric(text, 'playground_control_requests_total{status="403"}') == 1


def test_security_headers_on_every_response(make_client):
    client = make_client()
    session = create(client)
    responses = [
        client.get("/"),
        client.get("/healthz"),
        client.get("/metrics"),
        client.get("/api/presets"),
        client.get("/api/fields"),
        client.get("/api/scenario?queue=-1"),
        client.get("/no/such/page"),
        client.get("/static/css/playground.css"),
        client.post("/api/sessions", json={}),
        client.post("/api/sessions", content=b"{"),
        client.post("/api/sessions", json={"link": "x" * 5000}),
        client.post(session["control"], json={"action": "pause"}),
        client.get("/api/sessions/nope/stream"),
    ]
    for response in responses:
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert not re.search(r"https?:|\*|//", csp), csp  # no external origin, no wildcard
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


# A finite stream -----------------------------------------------------------------------------------


def test_a_stream_ends_with_the_lifetime_sentence(make_client):
    """The one stream TestClient can read: it ends by itself when the session's lifetime is up."""
    client = make_client(lifetime=0.5)
    session = create(client)
    response = client.get(session["stream"])  # the reaper ends it within about a second
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    blocks = [block for block in response.text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    frames = []
    for index, block in enumerate(blocks):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
        assert fields["event"] == "frame"
        frame = json.loads(fields["data"])
        assert fields["id"] == str(frame["n"])
        assert ("retry" in fields) == (index == 0)
        frames.append(frame)
    # Frame 1 came with the session (create's answer); the stream goes on from 2, one by one.
    assert session["frame"]["n"] == 1
    assert [f["n"] for f in frames] == list(range(2, len(frames) + 2))
    assert frames[0]["full"] is True and frames[0]["link"] == "v=1"
    assert all(f["status"] == "running" for f in frames[:-1])
    assert frames[-1]["status"] == "ended"
    assert "lifetime" in frames[-1]["message"] and frames[-1]["message"].endswith(".")
    assert 5 <= len(frames) <= 50  # 20 frames a second for 0.5-1.5 s
    health = client.get("/healthz").json()
    assert health["sessions"] == 0 and health["streams"] == 0
    assert client.get(session["stream"]).status_code == 410
    text = client.get("/metrics").text
    assert metric(text, "playground_frames_sent_total") == len(frames)
    assert metric(text, "playground_sessions_created_total") == 1


# Fuzzing: never a 500 ------------------------------------------------------------------------------

# Bounded so the known bugs below (huge integers, deep nesting) stay out of the fuzzing.
_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
_json = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _field_value(field):
    """Mostly values the field takes, sometimes just out of range, sometimes any JSON."""
    if field.kind == "choice":
        valid = st.sampled_from(field.choices)
        near = st.sampled_from([c.upper() for c in field.choices] + [""])
    elif field.kind == "int":
        valid = st.integers(int(field.minimum), min(int(field.maximum), int(field.minimum) + 300))
        near = st.one_of(st.integers(int(field.minimum) - 2, int(field.maximum) + 2),
                         st.just(str(field.default)))
    else:
        valid = st.floats(float(field.minimum), min(float(field.maximum), float(field.minimum) + 50))
        near = st.one_of(st.floats(float(field.minimum) - 1, float(field.maximum) + 1),
                         st.just(str(field.default)))
    return st.one_of(valid, valid, near, _json)


_key_value = st.sampled_from(list(FIELDS.values())).flatmap(
    lambda field: st.tuples(st.just(field.key), _field_value(field)))
_set = st.one_of(
    st.lists(_key_value, min_size=1, max_size=3).map(dict),
    st.lists(_key_value, max_size=3).map(dict).flatmap(
        lambda d: st.dictionaries(st.sampled_from(["v", "preset", "bogus", "link"]),
                                  st.one_of(st.sampled_from(list(PRESETS) + ["1", "2"]), _json),
                                  max_size=2).map(lambda extra: {**d, **extra})),
    _json,
)
_actions = ["pause", "resume", "step", "reset", "burst", "drain"]
_control_body = st.one_of(
    st.builds(lambda s: {"set": s}, _set),
    st.builds(lambda a: {"action": a}, st.sampled_from(_actions)),
    st.builds(lambda n: {"action": "burst", "n": n}, st.one_of(st.integers(1, 300), st.integers(-5, 10_005))),
    st.builds(lambda v: {"speed": v}, st.one_of(st.floats(0.1, 20), st.floats(-1, 25))),
    st.fixed_dictionaries({}, optional={
        "set": _set,
        "action": st.one_of(st.sampled_from(_actions), _json),
        "n": st.one_of(st.integers(-5, 10_005), _json),
        "speed": st.one_of(st.floats(0.1, 20), _json),
    }),
    st.dictionaries(st.one_of(st.sampled_from(["set", "action", "n", "speed"]), st.text(max_size=6)),
                    _json, max_size=4),
    _json,
)
_fuzz = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_fuzzed_control_bodies_never_500(make_client):
    client = make_client(raise_server_exceptions=False, control_burst=10**9, control_rate=10**9,
                         tick_budget=200, max_items=2000)
    session = create(client, {"rate": 50})

    @_fuzz
    @given(body=_control_body, as_text=st.booleans())
    def check(body, as_text):
        content = json.dumps(body) if as_text or not isinstance(body, dict) else json.dumps(body).encode()
        response = client.post(session["control"], content=content, headers=auth(session))
        event(f"status {response.status_code}")
        assert response.status_code in NEVER_500, (body, response.text)
        assert response.status_code in {200, 422, 413}, (body, response.text)
        if response.status_code == 422:
            assert response.json()["error"]

    check()


def test_fuzzed_raw_bodies_never_500(make_client):
    client = make_client(raise_server_exceptions=False, control_burst=10**9, control_rate=10**9,
                         max_sessions=10**9, max_sessions_per_client=10**9)
    session = create(client)

    @_fuzz
    @given(body=st.binary(max_size=200))
    def check(body):
        for url, headers in [("/api/sessions", {}), (session["control"], auth(session)),
                             (f"/api/sessions/{session['id']}/close", {})]:
            response = client.post(url, content=body, headers=headers)
            assert response.status_code in NEVER_500, (url, body, response.text)

    check()


_link_piece = st.one_of(
    st.tuples(st.sampled_from(sorted(FIELDS) + ["v", "preset", "bogus", ""]),
              st.one_of(st.text(max_size=8), st.sampled_from(["5", "-1", "1e3", "nan", "inf", "0x10",
                                                              "reject", "handbook", "%", "%zz", "1_0"])))
    .map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(max_size=10),
)
_link = st.one_of(
    st.lists(_link_piece, max_size=6).map("&".join),
    st.tuples(st.sampled_from(["http://x/?", "?", "/play?", "https://a.b/c#", ""]),
              st.lists(_link_piece, max_size=4).map("&".join)).map("".join),
)


def test_fuzzed_links_never_500(make_client):
    client = make_client(raise_server_exceptions=False, max_sessions=10**9, max_sessions_per_client=10**9)

    @_fuzz
    @given(link=_link)
    def check(link):
        created = client.post("/api/sessions", json={"link": link})
        event(f"status {created.status_code}")
        assert created.status_code in {201, 400, 422}, (link, created.text)
        query = quote(link, safe="=&+%;:/?,.-_~!*'()")
        url = client.base_url.copy_with(path="/api/scenario", query=query.encode("ascii"))
        checked = client.get(url)
        assert checked.status_code in {200, 422}, (link, checked.text)
        if created.status_code == 422:
            assert created.json()["error"]

    check()


def test_fuzzed_scenario_mappings_never_500(make_client):
    client = make_client(raise_server_exceptions=False, max_sessions=10**9, max_sessions_per_client=10**9)

    @_fuzz
    @given(body=_set)
    def check(body):
        response = client.post("/api/sessions", content=json.dumps(body))
        event(f"status {response.status_code}")
        assert response.status_code in {201, 400, 422}, (body, response.text)

    check()


# Bugs found while writing these tests (fixed) ---------------------------------------------------------------


def test_a_huge_integer_speed_is_422(make_client):
    client = make_client(raise_server_exceptions=False)
    session = create(client)
    response = client.post(session["control"], content='{"speed": 1' + "0" * 400 + "}",
                           headers=auth(session))
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/api/sessions", "control"])
def test_deeply_nested_json_is_400(make_client, path):
    client = make_client(raise_server_exceptions=False)
    session = create(client)
    url = session["control"] if path == "control" else path
    response = client.post(url, content=b"[" * 3000, headers=auth(session))
    assert response.status_code == 400


@pytest.mark.parametrize("where", ["header", "close body"])
def test_a_non_ascii_token_is_403(make_client, where):
    client = make_client(raise_server_exceptions=False)
    session = create(client)
    if where == "header":
        response = client.post(session["control"], json={"action": "pause"},
                               headers={"Authorization": b"Bearer \xe9t\xe9"})
    else:
        response = client.post(f"/api/sessions/{session['id']}/close", json={"token": "été"})
    assert response.status_code == 403


def test_an_overloaded_server_slows_frames_and_refuses_new_sessions(make_client):
    """Load shedding: a saturated process widens the frame interval and, while it is wide,
    refuses new sessions (503); when the load goes, the interval comes back by itself."""
    client = make_client()
    governor = client.app.state.manager.governor
    cpu = [0.0]
    at = [0.0]
    governor.clock, governor.cpu_clock = (lambda: at[0]), (lambda: cpu[0])
    for _ in range(12):  # a busy CPU and a loop 40 ms late, at 20 frames/s
        at[0] += 0.5
        cpu[0] += 0.5
        for _ in range(20):
            governor.sample(0.04)
        governor.govern()
    assert governor.overloaded and 1 / governor.interval < 20 / 1.5
    response = client.post("/api/sessions", json={})
    assert response.status_code == 503 and "busy" in response.json()["error"]
    assert response.headers["Retry-After"] == "5"
    for _ in range(10):  # idle, and no samples at all: it still recovers
        at[0] += 0.5
        governor.govern()
    assert governor.interval == governor.base_interval and not governor.overloaded
    assert client.post("/api/sessions", json={}).status_code == 201

# A link checked key by key (the page renders a bad link's valid keys and names every bad one) ----


def test_a_link_checked_key_by_key_keeps_the_valid_keys_and_names_every_bad_one():
    from playground.model.scenario import scenario_from_link_leniently

    scenario, errors = scenario_from_link_leniently("queue=-5&rate=80&wokers=3&rate=9&v=2&preset=nope")
    assert scenario == Scenario.from_link("")  # the defaults: rate is given twice, so left out whole
    assert [error.field for error in errors] == ["rate", "queue", "wokers", "v", "preset"]
    assert "neither is used: rate is 20, the default" in str(errors[0])
    assert "-5" in str(errors[1]) and "Did you mean 'workers'" in str(errors[2])
    assert all(isinstance(error, ScenarioError) for error in errors)
    # A good link: exactly from_link's scenario, and no errors.
    for link in ("", "v=1&preset=handbook&queue=3", "?policy=reject&queue=5", "http://x/?rate=2"):
        assert scenario_from_link_leniently(link) == (Scenario.from_link(link), [])
    # A valid preset keeps applying under the bad keys.
    scenario, errors = scenario_from_link_leniently("preset=handbook&queue=abc")
    assert scenario == Scenario.from_preset("handbook") and [e.field for e in errors] == ["queue"]
    # A cross-field rule the valid keys break drops the key it names (asap needs closed producers).
    scenario, errors = scenario_from_link_leniently("arrivals=asap&rate=7")
    assert scenario == Scenario.from_link("rate=7") and [e.field for e in errors] == ["arrivals"]


def test_the_page_carries_the_links_verdict_fields_and_presets_and_answers_200(make_client):
    client = make_client()
    response = client.get("/?queue=-5&rate=80&x=%27%3C/script%3E")
    assert response.status_code == 200
    assert response.text.count("</script>") == response.text.count("<script")  # a value cannot end the block
    boot = boot_data(response)
    verdict = boot["verdict"]
    assert verdict["link"] == "v=1&rate=80"
    assert verdict["scenario"] == Scenario.from_link("rate=80").to_dict()
    assert [error["field"] for error in verdict["errors"]] == ["queue", "x"]
    # The same answers the API gives, so the page needs no request before its session's.
    assert boot["fields"] == client.get("/api/fields").json()
    assert boot["presets"] == client.get("/api/presets").json()
    # No query: the default scenario, with nothing to complain about.
    plain = boot_data(client.get("/"))["verdict"]
    assert plain["link"] == "v=1&preset=background-jobs" and plain["errors"] == []


def test_a_new_session_carries_its_first_frame_and_may_open_paused(make_client):
    client = make_client()
    playing = create(client, {"link": "preset=handbook"})
    frame = playing["frame"]
    assert frame["full"] and frame["t"] == 0 and frame["status"] == "running" and frame["paused"] is False
    assert frame["link"] == playing["link"] and frame["window_columns"]
    paused = create(client, {"link": "preset=handbook", "paused": True})
    assert paused["frame"]["status"] == "paused" and paused["frame"]["paused"] is True
    by_mapping = create(client, {"preset": "handbook", "paused": False})
    assert by_mapping["frame"]["status"] == "running"
    refused = client.post("/api/sessions", json={"link": "preset=handbook", "paused": "yes"})
    assert refused.status_code == 422 and refused.json()["field"] == "paused"
    assert "paused must be true or false; got 'yes'" in refused.json()["error"]
