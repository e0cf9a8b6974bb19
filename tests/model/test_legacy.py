"""The v=1 promise: every preset and every parity scenario runs exactly as it did before the world
model grew (issue 9): same trace, same summary, same generated program, byte for byte."""

from __future__ import annotations

import json

import pytest
from legacy_links import RECORD, fingerprint

RECORDED = json.loads(RECORD.read_text())


@pytest.mark.parametrize("recorded", RECORDED, ids=[r["link"][:60] for r in RECORDED])
def test_an_old_link_runs_and_prints_exactly_as_recorded(recorded):
    now = fingerprint(recorded["link"], recorded["until"])
    assert now["trace_lines"] == recorded["trace_lines"]
    assert now["trace_sha256"] == recorded["trace_sha256"], "the trace changed"
    # The summary has grown keys since (throttled, attempts, ...): the old ones are unchanged,
    # and every new count is 0 for a link that does not use the new keys.
    assert {key: now["summary"][key] for key in recorded["summary"]} == recorded["summary"]
    added = {key: value for key, value in now["summary"].items() if key not in recorded["summary"]}
    summary = now["summary"]
    if "attempts" not in recorded["summary"]:
        # Recorded before attempts were counted (and so before retries existed): every item
        # that reached the downstream was attempted once: those that ended there, and some of
        # those lost in a crash or still in the system.
        attempts = summary["attempts"]
        ended = summary["completed"] + summary["timeouts"]
        assert ended <= attempts <= ended + summary["lost"] + summary["in_system"]
        assert 0 <= added.pop("downstream_in_flight", 0) <= max(1, attempts)
    added.pop("attempts", None)
    assert all(value == 0 for value in added.values()), added
    assert now["program_sha256"] == recorded["program_sha256"], "the generated program changed"


def test_the_record_covers_every_preset():
    from playground.model.presets import PRESETS

    # A comparison preset's A is one of the others, run for run (its B is a change of it).
    single = {name for name, preset in PRESETS.items() if not preset.b}
    assert {f"preset={name}" for name in single} <= {r["link"] for r in RECORDED}
    assert len(RECORDED) >= 30
