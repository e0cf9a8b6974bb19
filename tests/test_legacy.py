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
    assert now["summary"] == recorded["summary"]
    assert now["program_sha256"] == recorded["program_sha256"], "the generated program changed"


def test_the_record_covers_every_preset():
    from playground.presets import PRESETS

    assert {f"preset={name}" for name in PRESETS} <= {r["link"] for r in RECORDED}
    assert len(RECORDED) >= 30
