"""Calls on the app through a TestClient, shared by the tests of its routes: create a session,
drive it, read its metrics and its page's boot data."""

from __future__ import annotations

import json
import re


def create(client, body=None, *, expect=201, **kwargs):
    response = client.post("/api/sessions", json={} if body is None else body, **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


def auth(session) -> dict:
    return {"Authorization": f"Bearer {session['token']}"}


def control(client, session, body, *, expect=200):
    response = client.post(session["control"], json=body, headers=auth(session))
    assert response.status_code == expect, response.text
    return response.json()


def metric(text: str, name: str) -> float:
    """The value of one sample (``name`` includes any labels) in Prometheus text."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"no sample {name} in:\n{text}"
    return float(match.group(1))


def boot_data(response) -> dict:
    match = re.search(r'<script type="application/json" id="boot-data">(.*?)</script>', response.text, re.S)
    assert match, "no boot-data block"
    return json.loads(match.group(1))
