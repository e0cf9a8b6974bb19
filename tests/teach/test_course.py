"""Lessons as data (issue 12): every shipped lesson loads and every step opens; a bad file fails
loudly naming the step; a session opens a step's scenario in place; a room follows its lesson."""

from __future__ import annotations

import anyio
import pytest

from playground.model.compare import Comparison
from playground.model.scenario import Scenario
from playground.teach import course
from playground.web.sessions import Cursor, Session
from playground.web.settings import Settings
from app_client import auth


def test_the_handbook_lesson_walks_the_four_questions_and_the_handbooks_bug():
    lesson = course.lesson("handbook-in-fifteen-minutes")
    assert lesson.title == "The handbook in fifteen minutes" and len(lesson.steps) >= 6
    presets = [Scenario.from_link(step.link).preset for step in lesson.steps]
    assert {"handbook", "handbook-as-printed", "background-jobs", "webhook-ingestion",
            "semaphore-vs-none"} <= set(presets)
    assert any(step.question for step in lesson.steps)
    for step in lesson.steps:
        assert Comparison.from_link(step.link).to_link() == step.link  # canonical, and it opens


@pytest.mark.parametrize("text, words", [
    ('title = "x"\n[[steps]]\ntitle = "a"\nlink = "queue=-1"\nnotice = "n"\n', "step 1: its link does not open: queue"),
    ('title = "x"\n[[steps]]\ntitle = "a"\nlink = "v=1"\nnotice = "n"\nquestion = "why"\n', "step 1: question must be one of"),
    ('title = "x"\n[[steps]]\ntitle = "a"\nlink = "v=1"\n', "step 1: a step has a title, a link and a notice"),
    ('title = "x"\n', "a lesson has a title and at least one step"),
])
def test_a_bad_lesson_file_fails_naming_the_file_and_the_step(tmp_path, text, words):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(course.LessonError, match=words) as caught:
        course.load(path)
    assert str(caught.value).startswith("broken.toml")


def test_open_puts_a_new_scenario_in_the_same_session():
    session = Session("s", "t", "c", Scenario.from_link("v=1&preset=webhook-ingestion"), Settings(), now=0.0)
    cursor = Cursor()
    session.frame(cursor)
    anyio.run(session.control, {"open": "v=1&preset=semaphore-vs-none"}, lambda: 0.0)
    frame = session.frame(cursor)
    assert frame["full"] and frame["compare"]["label"] == "A: limit 0 · B: limit 8" and frame["t"] == 0
    with pytest.raises(Exception, match="queue must be"):
        anyio.run(session.control, {"open": "v=1&queue=-3"}, lambda: 0.0)
    assert session.link() == "v=1&preset=semaphore-vs-none"  # a bad link changed nothing
    with pytest.raises(Exception, match='"open" goes alone'):
        anyio.run(session.control, {"open": "v=1", "speed": 2}, lambda: 0.0)
    assert session.link() == "v=1&preset=semaphore-vs-none" and session.speed == 1.0


def test_a_room_follows_its_lesson_step_by_step(make_client):
    client = make_client()
    room = client.post("/api/rooms", json={"link": "v=1&preset=handbook"}).json()
    code, session = room["code"], room["session"]
    moved = client.post(f"/api/rooms/{code}/control", headers=auth(session),
                        json={"step": {"lesson": "handbook-in-fifteen-minutes", "index": 3}})
    assert moved.status_code == 200, moved.text
    step = moved.json()["step"]
    lesson = course.lesson("handbook-in-fifteen-minutes")
    assert step["index"] == 3 and step["link"] == lesson.steps[3].link
    assert moved.json()["question"]["key"] == lesson.steps[3].question  # its question is asked
    summary = client.get(f"/api/sessions/{session['id']}/summary").json()
    assert summary["link"] == lesson.steps[3].link
    bad = client.post(f"/api/rooms/{code}/control", headers=auth(session),
                      json={"step": {"lesson": "handbook-in-fifteen-minutes", "index": 99}})
    assert bad.status_code == 422 and "index must be from 0 to" in bad.json()["error"]
    assert client.get("/lesson/handbook-in-fifteen-minutes").status_code == 200
    assert client.get("/lesson/nope").status_code == 404


def test_the_second_lesson_goes_past_the_handbook():
    """Issue 24: a second shipped lesson uses CoDel and an adaptive limit, each step a valid link."""
    lesson = course.lesson("past-the-handbook")
    assert lesson.title == "Past the handbook" and len(lesson.steps) >= 3
    sides = [Comparison.from_link(step.link) for step in lesson.steps]
    assert any(side.b is not None and side.b.codel == "on" for side in sides)
    assert any(side.a.limiter == "aimd" for side in sides)
    assert any(step.question for step in lesson.steps)

