"""A/B in one link (issue 11): ``b.`` keys describe service B as overrides of A; both are fed the
same arrivals, and each item brings the same work to both (common random numbers)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.cli import main
from playground.model.compare import SHARED, Comparison
from playground.model.presets import PRESETS
from playground.model.scenario import Scenario, ScenarioError

LINK = "preset=webhook-ingestion&b.policy=drop-oldest"


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_b_keys_make_service_b_and_without_them_nothing_changes():
    comparison = Comparison.from_link(LINK + "&b.queue=10")
    assert comparison.a == Scenario.from_preset("webhook-ingestion")
    assert comparison.b == comparison.a.replace(policy="drop-oldest", queue=10)
    assert comparison.to_link() == "v=1&preset=webhook-ingestion&b.policy=drop-oldest&b.queue=10"
    assert comparison.label() == "A: queue 40; policy reject · B: queue 10; policy drop-oldest"  # link order
    plain = Comparison.from_link("preset=handbook&queue=1")
    assert plain.b is None and plain.a == Scenario.from_link("preset=handbook&queue=1")


@pytest.mark.parametrize("link, field, words", [
    ("preset=handbook&b.rate=5", "b.rate", "b.rate cannot differ from A's: A and B are fed the same arrivals"),
    ("b.seed=2", "b.seed", "change seed without b."),
    ("b.nope=1", "b.nope", "b.nope is not a key B can have"),
    ("b.queue=-1", "b.queue", "b.queue must be an integer from 0 to 10000"),
    ("b.policy=reject&b.policy=block", "b.policy", "b.policy is given twice"),
])
def test_a_bad_b_key_is_named(link, field, words):
    with pytest.raises(ScenarioError) as refused:
        Comparison.from_link(link)
    assert refused.value.field == field and words in str(refused.value)


def test_every_shared_key_is_an_arrival_key():
    assert set(SHARED) == {"arrivals", "rate", "burst", "period", "producer", "producers", "items", "seed"}


def test_run_prints_both_services_side_by_side(capsys):
    status, out, _ = cli(capsys, "run", LINK, "--until", "30", "--json")
    both = json.loads(out)
    _, alone_a, _ = cli(capsys, "run", "preset=webhook-ingestion", "--until", "30", "--json")
    _, alone_b, _ = cli(capsys, "run", "preset=webhook-ingestion&policy=drop-oldest", "--until", "30", "--json")
    assert status == 0 and both["link"] == "v=1&" + LINK
    # Each side is exactly that service run alone, and both saw the same arrivals.
    assert {**both["a"], "link": "v=1&preset=webhook-ingestion"} == json.loads(alone_a)
    assert both["b"] == {k: v for k, v in json.loads(alone_b).items() if k != "link"}
    assert both["a"]["arrived"] == both["b"]["arrived"]
    assert both["a"]["rejected"] > 0 == both["b"]["rejected"] and both["b"]["dropped"] > 0
    _, text, _ = cli(capsys, "run", LINK, "--until", "30")
    assert "A: policy reject · B: policy drop-oldest" in text
    rejected = next(line for line in text.splitlines() if line.startswith("rejected"))
    assert rejected.split()[1:] == [str(both["a"]["rejected"]), "0"]


def test_trace_tags_each_services_lines_and_each_is_its_own_trace(capsys):
    _, out, _ = cli(capsys, "trace", "preset=handbook&b.queue=1")
    lines = out.splitlines()
    assert {line[:2] for line in lines} == {"A ", "B "}
    _, a, _ = cli(capsys, "trace", "preset=handbook")
    _, b, _ = cli(capsys, "trace", "preset=handbook&queue=1")
    assert [line[2:] for line in lines if line.startswith("A ")] == a.splitlines()
    assert [line[2:] for line in lines if line.startswith("B ")] == b.splitlines()
    times = [float(line.split()[1]) for line in lines]
    assert times == sorted(times)  # one timeline


def test_code_diff_shows_what_b_changes(capsys):
    status, out, _ = cli(capsys, "code", LINK, "--diff")
    assert status == 0 and out.startswith("--- A.py\n+++ B.py\n")
    assert '-        log(f"rejected {item}: queue full")' in out
    assert '+        log(f"dropped {oldest} to make room for {item}")' in out
    status, _, err = cli(capsys, "code", LINK)
    assert status == 2 and "add --diff" in err
    status, _, err = cli(capsys, "code", "preset=handbook", "--diff")
    assert status == 2 and "b.KEY=VALUE" in err


def test_run_csv_of_a_comparison_tags_each_row(tmp_path, capsys):
    path = tmp_path / "ab.csv"
    assert main(["run", LINK, "--until", "10", "--csv", str(path)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [row["service"] for row in rows] == ["A"] * 20 + ["B"] * 20
    assert {row["t"] for row in rows if row["service"] == "A"} == {row["t"] for row in rows if row["service"] == "B"}


# Comparison presets ------------------------------------------------------------------------------


COMPARISON_PRESETS = [name for name, preset in PRESETS.items() if preset.b]


@pytest.mark.parametrize("name", COMPARISON_PRESETS)
def test_a_comparison_preset_opens_both_services_and_its_link_stays_short(name):
    comparison = Comparison.from_link(f"v=1&preset={name}")
    assert comparison.b == comparison.a.replace(**PRESETS[name].b)
    assert comparison.to_link() == f"v=1&preset={name}"
    assert Scenario.from_link(f"v=1&preset={name}") == comparison.a  # one service: A
    assert not set(PRESETS[name].b) & set(SHARED)
    assert " · B: " in comparison.label()


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(COMPARISON_PRESETS), a_key=st.sampled_from(["workers", "queue", "limit", "service_time"]),
       b_key=st.sampled_from(["workers", "queue", "limit", "policy", "max_age"]), data=st.data())
def test_of_gives_a_link_that_reproduces_both_services(name, a_key, b_key, data):
    """Comparison.of(a, b).to_link() reopens exactly A and B, for presets that compare and links
    that change A, B or both -- including B set back to A's value on a key the preset changes."""
    base = Comparison.from_link(f"v=1&preset={name}")
    a = base.a.replace(**{a_key: data.draw(st.sampled_from(_values(a_key)))})
    b = Comparison.from_link(a.to_link()).b
    values = _values(b_key)
    if b_key == "limit" and b.limiter != "fixed":
        values = [v for v in values if v]  # an adaptive limiter needs a limit to start at
    b = b.replace(**{b_key: data.draw(st.sampled_from(values))})
    for pair in ((a, b), (a, a)):
        link = Comparison.of(*pair).to_link()
        again = Comparison.from_link(link)
        assert (again.a, again.b) == pair, link


def _values(key):
    return {"workers": [1, 4, 32], "queue": [0, 10, 50], "limit": [0, 4, 8], "service_time": [0.05, 0.1],
            "policy": ["block", "reject", "drop-oldest"], "max_age": [0, 2]}[key]


def test_of_refuses_a_shared_key_that_differs():
    a = Scenario.from_link("v=1&rate=10")
    with pytest.raises(ScenarioError, match="rate differs between A and B"):
        Comparison.of(a, a.replace(rate=20))
