"""Errors as pages (issue 20, item 8): a page address that leads nowhere (an unknown room, lesson
or page) answers an HTML page in the site's style, with one sentence and a way on (a box for a
room code, the lessons, the playground); the API keeps answering JSON. HTML or JSON is decided by
the route, not by the Accept header."""

from __future__ import annotations

import html
import re

import pytest

from playground.teach import course
from playground.web import rooms

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def sentence(page) -> str:
    found = re.search(r'id="error-sentence"[^>]*>([^<]*)<', page.text)
    assert found, page.text[:400]
    return html.unescape(found.group(1))


def assert_way_on(page) -> None:
    """The page's way on: the code box (a GET form to /r/), every lesson's link, the playground."""
    assert page.headers["content-type"].startswith("text/html")
    assert '<form class="join-form" method="get" action="/r/">' in page.text
    assert 'name="code"' in page.text
    for name, lesson in course.lessons().items():
        assert f'href="/lesson/{name}"' in page.text and html.escape(lesson.title) in page.text
    assert 'href="/"' in page.text
    assert "playground.css" in page.text  # the site's own style (base.html)
    assert '"error":' not in page.text


@pytest.mark.parametrize("path, words", [
    ("/r/WRONGCODE", "There is no room WRONGCODE: check the code on the projector"),
    ("/r/zzzzzz", "There is no room ZZZZZZ: check the code on the projector"),
    ("/lesson/nope", "There is no lesson called 'nope': pick one of the lessons below."),
    ("/present?lesson=nope", "There is no lesson called 'nope': pick one of the lessons below."),
    ("/present/nope", "There is no room nope"),
    ("/no-such-page", "There is no page at this address."),
])
def test_a_wrong_page_address_is_a_page_with_one_sentence_and_a_way_on(make_client, path, words):
    client = make_client()
    for headers in (BROWSER, {"Accept": "application/json"}):  # by route, whatever the Accept
        page = client.get(path, headers=headers)
        assert page.status_code == 404, (path, page.status_code)
        assert words in sentence(page), sentence(page)
        assert_way_on(page)
    assert "unknown key" not in client.get("/present?lesson=nope").text


def test_the_code_box_goes_to_the_room_in_capitals(make_client):
    client = make_client()
    code = client.post("/api/rooms", json={"link": "v=1"}).json()["code"]
    typed = client.get("/r/", params={"code": f" {code.lower()[:3]} {code.lower()[3:]} "}, follow_redirects=False)
    assert typed.status_code == 303 and typed.headers["location"] == f"/r/{code}"
    room = client.get(typed.headers["location"])
    assert room.status_code == 200 and "Send requests" in room.text
    assert client.get("/r/?code=abc-234", follow_redirects=False).headers["location"] == "/r/ABC234"
    empty = client.get("/r/")
    assert empty.status_code == 200 and sentence(empty) == "Type the code the projector shows."
    assert_way_on(empty)
    junk = client.get("/r/", params={"code": "--"})
    assert junk.status_code == 404 and "not a room code" in sentence(junk)
    # Only the code's letters and digits go into the redirect: no other site, no path.
    away = client.get("/r/", params={"code": "//evil.example/x"}, follow_redirects=False)
    assert away.headers["location"] == "/r/EVILEXAMPLEX"


def test_a_held_room_lookup_is_a_page_that_says_how_long_to_wait(make_client):
    client = make_client()
    statuses = [client.get(f"/r/ZZZZ{n:02d}".translate(str.maketrans("0123456789", "ABCDEFGHJK"))).status_code
                for n in range(rooms.MISS_BURST + 1)]
    assert statuses[:rooms.MISS_BURST] == [404] * rooms.MISS_BURST and statuses[-1] == 429
    held = client.get("/r/ZZZZZZ", headers=BROWSER)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    words = sentence(held)
    assert re.search(r"wait \d+ seconds?, check the code on the projector", words), words
    assert f"wait {held.headers['Retry-After']} second" in words
    assert_way_on(held)
    # The API's lookup of the same room keeps its JSON answer.
    api = client.get("/api/rooms/ZZZZZZ/qr.svg", headers=BROWSER)
    assert api.status_code == 429 and api.headers["content-type"] == "application/json"
    assert "unknown room codes" in api.json()["error"]


def test_the_api_keeps_its_json_errors(make_client):
    client = make_client()
    for path in ("/api/rooms/ZZZZZZ/qr.svg", "/api/sessions/nope/summary"):
        answer = client.get(path, headers=BROWSER)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/json", path
        assert answer.json()["error"]
    refused = client.post("/api/rooms/ZZZZZZ/join", json={})
    assert refused.status_code == 404 and refused.json()["error"]
    # A path under /api/ that no route matches is not dressed up as a page either.
    assert "<html" not in client.get("/api/nope", headers=BROWSER).text


def test_a_bad_preset_on_the_playground_is_a_sentence_on_the_page_not_json(make_client):
    client = make_client()
    page = client.get("/?preset=nope", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    verdict = re.search(r'<script type="application/json" id="boot-data">(.*?)</script>', page.text, re.S)
    import json
    errors = json.loads(verdict.group(1))["verdict"]["errors"]
    assert errors and errors[0]["field"] == "preset" and errors[0]["message"].endswith(".")
    assert "nope" in errors[0]["message"]
