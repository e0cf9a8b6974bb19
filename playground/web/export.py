"""Exports of a run: its metrics windows as CSV (the same columns the page charts, one row per
0.5-s window), for ``run --csv`` and the page's download."""

from __future__ import annotations

import csv
import io

from playground.sim.engine import Engine
from playground.web import frames


def windows_csv(engine: Engine) -> str:
    """Every metrics window the engine kept, and a finished run's last partial one, as CSV with a
    header row of frames.WINDOW_COLUMNS (times and latencies in seconds, rates per second)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(frames.WINDOW_COLUMNS)
    for window in engine.metrics.windows:
        writer.writerow(frames.window(window))
    final = frames.final_window(engine)
    if final is not None:
        writer.writerow(final)
    return out.getvalue()


def compared_windows_csv(a: Engine, b: Engine) -> str:
    """Two services' windows in one CSV: a first column ``service`` (A or B), A's rows first."""
    lines = []
    for name, engine in (("A", a), ("B", b)):
        header, *rows = windows_csv(engine).splitlines()
        if not lines:
            lines.append("service," + header)
        lines += [f"{name},{row}" for row in rows]
    return "\n".join(lines) + "\n"
