"""Tests for the command line (playground/cli.py), mostly in-process through main()."""

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from handbook_trace import HANDBOOK_TRACE

from playground.cli import main
from playground.model.scenario import FIELDS

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *argv):
    status, out, err = run_cli(capsys, "run", *argv, "--json")
    assert (status, err) == (0, "")
    return json.loads(out)


# run -------------------------------------------------------------------------------------


def test_run_handbook_json(capsys):
    summary = run_json(capsys, "preset=handbook")
    assert summary["arrived"] == 6
    assert summary["completed"] == 6
    assert summary["in_system"] == 0
    assert summary["sim_time"] == pytest.approx(0.45)
    assert summary["finished"] is True
    assert summary["link"] == "v=1&preset=handbook"
    assert summary["latency_mean"] == pytest.approx(0.3)


def test_run_json_has_every_summary_key(capsys):
    summary = run_json(capsys, "preset=handbook")
    for key in ("arrived", "completed", "rejected", "dropped", "put_timeouts", "stale", "timeouts",
                "lost", "in_system", "throughput", "latency_mean", "latency_p50", "latency_p95",
                "latency_p99", "mean_in_system", "sim_time", "link"):
        assert key in summary


def test_run_reject_conserves_items(capsys):
    summary = run_json(capsys, "queue=5&policy=reject&rate=200", "--until", "10")
    assert summary["sim_time"] == pytest.approx(10)
    assert summary["finished"] is False
    assert summary["rejected"] > 0
    left = sum(summary[key] for key in
               ("completed", "rejected", "dropped", "put_timeouts", "stale", "timeouts", "lost"))
    assert summary["arrived"] == left + summary["in_system"]
    assert summary["link"] == "v=1&rate=200&queue=5&policy=reject"


def test_run_human_summary_is_an_aligned_table(capsys):
    status, out, err = run_cli(capsys, "run", "preset=handbook")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in lines)
    assert rows["link"] == "v=1&preset=handbook"
    assert rows["sim time"] == "0.450 s (finished)"
    assert rows["completed"] == "6"
    assert rows["latency mean"] == "300.0 ms"
    assert rows["mean in system"] == "4.00 items"
    # Values start in one column.
    starts = {len(line) - len(line.split("  ", 1)[1].lstrip()) for line in lines}
    assert len(starts) == 1


def test_run_until_stops_a_finite_run_early(capsys):
    summary = run_json(capsys, "preset=handbook", "--until", "0.2")
    assert summary["sim_time"] == pytest.approx(0.2)
    assert summary["completed"] == 2
    assert summary["finished"] is False


def test_run_takes_a_whole_url(capsys):
    summary = run_json(capsys, "http://localhost:8000/?v=1&preset=handbook&queue=3#top")
    assert summary["link"] == "v=1&preset=handbook&queue=3"
    assert summary["completed"] == 6


def test_run_takes_a_query_with_question_mark(capsys):
    summary = run_json(capsys, "?preset=handbook")
    assert summary["completed"] == 6


# trace -----------------------------------------------------------------------------------


def test_trace_handbook_is_exact(capsys):
    status, out, err = run_cli(capsys, "trace", "preset=handbook")
    assert (status, err) == (0, "")
    assert out.splitlines() == HANDBOOK_TRACE


def test_trace_until_streams_in_order_and_stops(capsys):
    status, out, err = run_cli(capsys, "trace", "rate=50&seed=7", "--until", "3.5")
    assert (status, err) == (0, "")
    times = [float(line.split(" ", 1)[0]) for line in out.splitlines()]
    assert len(times) > 100  # several chunks' worth
    assert times == sorted(times)
    assert times[-1] <= 3.5


def test_trace_is_the_same_whatever_the_chunks(capsys):
    # A chunked trace equals the events of one uninterrupted run.
    from playground.model.scenario import Scenario
    from playground.sim import trace
    from playground.sim.engine import Engine

    link = "rate=80&queue=5&policy=drop-oldest&seed=3"
    engine = Engine(Scenario.from_link(link), event_cap=None)
    engine.run(4.2)
    expected = [trace.line(event) for event in engine.read_events()]
    status, out, _ = run_cli(capsys, "trace", link, "--until", "4.2")
    assert status == 0
    assert out.splitlines() == expected


# code and presets ----------------------------------------------------------------------


def test_code_handbook_compiles(capsys):
    status, out, err = run_cli(capsys, "code", "preset=handbook")
    assert (status, err) == (0, "")
    compile(out, "handbook.py", "exec")
    assert "asyncio.Queue(maxsize=QUEUE_SIZE)" in out
    assert "Link: v=1&preset=handbook" in out


def test_presets_lists_every_preset(capsys):
    from playground.model.presets import PRESETS

    status, out, err = run_cli(capsys, "presets")
    assert (status, err) == (0, "")
    for preset in PRESETS.values():
        assert preset.name in out and preset.title in out and preset.link in out


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith("usage: backpressure-playground")
    for command in ("serve", "run", "trace", "code", "presets", "--port", "--max-sessions"):
        assert command in out


def test_no_arguments_starts_the_server(monkeypatch):
    """With no command it serves; the server itself is tested in test_server.py."""
    import playground.cli as cli

    started = {}
    monkeypatch.setattr(cli, "cmd_serve", lambda args: started.setdefault("port", args.port) or 0)
    assert main([]) == 0 and "port" in started


def test_bad_server_setting_is_a_sentence(capsys):
    status = main(["serve", "--port", "99999"])
    err = capsys.readouterr().err
    assert status == 2 and "port" in err and "99999" in err


# errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "trace", "code"])
def test_bad_link_is_a_sentence_and_exit_2(capsys, command):
    status, out, err = run_cli(capsys, command, "queue=-1")
    assert status == 2
    assert out == ""
    assert err.startswith("backpressure-playground: error: ")
    assert "queue" in err and "-1" in err
    assert err.count("\n") == 1


def test_unknown_key_is_refused(capsys):
    status, out, err = run_cli(capsys, "run", "quue=5", "--until", "1")
    assert (status, out) == (2, "")
    assert "unknown key 'quue'" in err
    assert "Did you mean 'queue'?" in err


def test_unknown_preset_is_refused(capsys):
    status, out, err = run_cli(capsys, "code", "preset=nope")
    assert (status, out) == (2, "")
    assert "preset must be one of" in err


@pytest.mark.parametrize("command", ["run", "trace"])
def test_endless_without_until_is_refused(capsys, command):
    status, out, err = run_cli(capsys, command, "queue=5")
    assert (status, out) == (2, "")
    assert err.startswith("backpressure-playground: error: ")
    assert "--until" in err


@pytest.mark.parametrize("until", ["-1", "nan", "inf", "1e400", "soon", ""])
def test_bad_until_is_refused(capsys, until):
    status, out, err = run_cli(capsys, "run", "queue=5", "--until", until)
    assert (status, out) == (2, "")
    assert err.startswith("backpressure-playground: error: --until must be")
    assert repr(until) in err


def test_until_zero_is_allowed(capsys):
    summary = run_json(capsys, "queue=5", "--until", "0")
    assert summary["sim_time"] == 0
    assert summary["arrived"] == 0


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["fly"])
    assert exit.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# as a program ----------------------------------------------------------------------------


def test_python_dash_m_playground():
    result = subprocess.run(
        [sys.executable, "-m", "playground", "trace", "preset=handbook"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == HANDBOOK_TRACE


def _console_script() -> str | None:
    name = "backpressure-playground"
    candidate = Path(sysconfig.get_path("scripts")) / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def test_console_script():
    script = _console_script()
    assert script, "backpressure-playground is not installed: pip install -e ."
    result = subprocess.run([script, "run", "preset=handbook", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["completed"] == 6
    bad = subprocess.run([script, "run", "queue=-1"], capture_output=True, text=True, timeout=60)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("backpressure-playground: error: queue must be")


def test_trace_into_a_closed_pipe_stops_quietly():
    # Like `backpressure-playground trace ... | head -5`: the reader leaves early.
    process = subprocess.Popen(
        [sys.executable, "-m", "playground", "trace", "rate=2000", "--until", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    first = [process.stdout.readline() for _ in range(5)]
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert first[0] == b"0.000 produce 0 qsize before: 0\n"
    assert b"Traceback" not in err
    assert err == b""
    assert process.returncode == 1


# README ----------------------------------------------------------------------------------


def test_readme_lists_every_link_key():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The link vocabulary", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    assert keys == ["v", "preset", *FIELDS, "do", "at"]  # the settings, then what happened in the run
