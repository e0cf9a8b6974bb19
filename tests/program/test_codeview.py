"""The code view (issue 11): the program highlighted on the server, in either variant, as JSON
and as a file to save; and every event a run prints points at a line of its program."""

from __future__ import annotations

from pathlib import Path

import pytest
from parity_cases import SCENARIOS

from playground.model.scenario import Scenario
from playground.program.codegen import generate
from playground.program.codeview import printed_by, stylesheet
from playground.sim.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


def test_the_code_view_is_the_program_highlighted(make_client):
    client = make_client()
    answer = client.get("/api/code/3.13?preset=handbook&queue=1")
    assert answer.status_code == 200
    program = answer.json()
    scenario = Scenario.from_link("preset=handbook&queue=1")
    assert program["source"] == generate(scenario) and program["link"] == scenario.to_link()
    assert program["python"] == "3.13" and program["pythons"] == ["3.13", "3.11"]
    assert program["filename"] == "handbook.py"
    lines = program["source"].split("\n")
    # Each line is a span the page can mark; the markup escapes the source.
    assert f'id="code-line-{len(lines) - 1}"' in program["html"] and "<script" not in program["html"]
    handled = program["printed_by"]["handled"]
    assert handled and all('handled {item}' in lines[n - 1] for n in handled)
    older = client.get("/api/code/3.11?preset=handbook").json()
    assert "await queue.put(None)" in older["source"] and "    queue.shutdown()" not in older["source"]
    assert older["filename"] == "handbook-py311.py"


def test_the_program_downloads_as_a_python_file(make_client):
    answer = make_client().get("/api/code/3.11/program.py?preset=webhook-ingestion")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/x-python")
    assert answer.headers["content-disposition"] == 'attachment; filename="webhook-ingestion-py311.py"'
    assert answer.text == generate(Scenario.from_preset("webhook-ingestion"), python="3.11")


@pytest.mark.parametrize("path, field, words", [
    ("/api/code/3.12?preset=handbook", "python", "python must be one of 3.13, 3.11; got '3.12'."),
    ("/api/code/3.13?queue=-1", "queue", "queue must be an integer from 0 to 10000"),
    ("/api/code/3.11?preset=handbook-as-printed", "join", "it needs Python 3.13"),
])
def test_a_bad_code_request_names_what_is_wrong(make_client, path, field, words):
    answer = make_client().get(path)
    assert answer.status_code == 422
    assert answer.json()["field"] == field and words in answer.json()["error"]


def test_the_printed_handbook_has_only_a_313_program(make_client):
    program = make_client().get("/api/code/3.13?preset=handbook-as-printed").json()
    assert program["pythons"] == ["3.13"]
    lines = program["source"].split("\n")
    assert [lines[n - 1].strip() for n in program["printed_by"]["failed"]] == ["await queue.join()"]


@pytest.mark.parametrize("link, until", [(link, until) for _, link, until in SCENARIOS],
                         ids=[name for name, _, _ in SCENARIOS])
def test_every_event_a_run_prints_points_at_a_line_that_prints_it(link, until):
    scenario = Scenario.from_link(link)
    engine = Engine(scenario, event_cap=None)
    engine.run(until)
    kinds = {event[1] for event in engine.read_events()}
    for python in ("3.13", "3.11"):
        lines = printed_by(generate(scenario, python=python))
        assert all(lines[kind] for kind in kinds), {kind: lines[kind] for kind in kinds}


def test_the_code_stylesheet_is_pygments_own():
    assert (ROOT / "static" / "css" / "code.css").read_text() == stylesheet()
