"""Exports (issue 11): ``run --csv`` writes every metrics window of the run, and a live session's
summary can be fetched for the page's download."""

from __future__ import annotations

import csv
import json

from app_client import create

from playground.cli import main
from playground.web.frames import WINDOW_COLUMNS


def test_run_csv_writes_every_window_of_the_run(tmp_path, capsys):
    path = tmp_path / "windows.csv"
    assert main(["run", "preset=webhook-ingestion", "--until", "30", "--csv", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == WINDOW_COLUMNS and len(rows) == 60  # 30 s in 0.5-s windows
    assert [float(row["t"]) for row in rows] == [0.5 * (i + 1) for i in range(60)]
    # The windows add up to the run: goodput is per second over 0.5 s; losses are counts.
    assert round(sum(float(row["goodput"]) * 0.5 for row in rows)) == summary["completed"]
    assert sum(int(row["rejected"]) for row in rows) == summary["rejected"]


def test_run_csv_says_why_it_cannot_write(tmp_path, capsys):
    assert main(["run", "preset=handbook", "--csv", str(tmp_path / "missing" / "w.csv")]) == 2
    assert "--csv could not write" in capsys.readouterr().err


def test_a_live_sessions_summary(make_client):
    client = make_client()
    session = create(client, {"link": "preset=handbook"})
    answer = client.get(f"/api/sessions/{session['id']}/summary")
    assert answer.status_code == 200
    summary = answer.json()
    assert summary["link"] == "v=1&preset=handbook" and summary["arrived"] >= 0
    assert set(summary) >= {"completed", "rejected", "latency_p99", "peak_in_system"}
    assert client.get("/api/sessions/nope/summary").status_code == 404
