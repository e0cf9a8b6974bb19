"""What was done during a run, in its link: ``do=`` (the control log) and ``at=`` (a moment).

A link's settings say how a run starts; ``do`` says what was done to it and when, so the link is
the whole run. It is a comma-separated list of entries, each ``TIME:CONTROL`` with TIME in sim
seconds (at most three decimals, in order)::

    do=3.018:queue=5,5.2:hiccup=5x3,6.1:burst=50,9:drain

CONTROL is one of ``KEY=VALUE`` (a setting; several as ``queue=5;workers=2``), ``burst=N``,
``hiccup=FACTORxSECONDS`` or ``drain``. In a comparison a setting for one service alone is
prefixed ``a.`` or ``b.`` (``4:b.queue=5``); an entry without a prefix went to both. The
characters used (``:,;=.x``) need no escaping in a query, so the address bar shows the log as
written. ``at=T`` opens the run paused at sim time T.

Entries are checked here against the settings they meet (each setting's range and the
cross-field rules, a burst after a drain), so a bad log is refused whole, before any of it
runs. What only the run can tell (the service is down at that moment) is decided when the run
reaches the entry: the engine skips it, saying why, the same way on the page and in the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from playground.model.compare import PREFIX, SHARED, Comparison
from playground.model.scenario import (
    FIELDS,
    ScenarioError,
    _query_of,
    _query_pairs,
    format_number,
    link_text,
    shown,
)

#: Entries a link's do may hold, and its length: a log past them is refused with a sentence.
MAX_ENTRIES = 200
MAX_DO_CHARS = 4000
#: The latest sim time an entry or a moment may name (a fork replays no further either).
HORIZON = 3600.0
#: The most items one burst makes (the engine's own cap).
BURST_MAX = 10_000
#: Keys of a link that are not settings: they say what happened in the run.
RUN_KEYS = ("do", "at")

HICCUP_FACTOR = (1.0, 1000.0)
HICCUP_SECONDS = (0.001, 3600.0)


def check_hiccup(factor, seconds) -> None:
    """Raise ScenarioError unless ``factor`` and ``seconds`` make a hiccup."""
    for name, value, (low, high) in (("factor", factor, HICCUP_FACTOR), ("seconds", seconds, HICCUP_SECONDS)):
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and low <= value <= high
        if not ok:
            raise ScenarioError(f"a hiccup's {name} must be a number from {low:g} to {high:g}; "
                                f"got {shown(value)}.", name, value)


_TIME = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,3})?", re.ASCII)
_HICCUP = re.compile(r"([0-9.]+)x([0-9.]+)", re.ASCII)


def quantize(t: float) -> float:
    """The first millisecond at or after ``t``: the instant a live control is applied at, so that
    the link's three decimals name it exactly (``float("3.018") == 3018 / 1000``)."""
    k = round(t * 1000)
    if k / 1000 < t:
        k += 1
    return k / 1000


def format_time(t: float) -> str:
    text = f"{t:.3f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True)
class Entry:
    """One control of the log: at sim time ``t``, to ``side`` ("a", "b", or None for every
    service), the engine's control (``{"set": {...}}`` or ``{"action": ...}``)."""

    t: float
    side: str | None
    control: dict = field(hash=False)

    def text(self) -> str:
        control = self.control
        prefix = f"{self.side}." if self.side else ""
        if "set" in control:
            what = ";".join(f"{prefix}{key}={_value_text(key, raw)}" for key, raw in control["set"].items())
        elif control["action"] == "burst":
            what = f"burst={control.get('n', 10)}"
        elif control["action"] == "hiccup":
            what = f"hiccup={format_number(float(control['factor']))}x{format_number(float(control['seconds']))}"
        else:
            what = control["action"]
        return f"{format_time(self.t)}:{what}"


def _value_text(key: str, raw: object) -> str:
    return link_text(FIELDS[key].parse(raw)) if key in FIELDS else str(raw)


def format_do(entries: list[Entry]) -> str:
    """The value of ``do=`` for these entries (the characters need no escaping in a query)."""
    return ",".join(quote(entry.text(), safe=":;=.x-_,") for entry in entries)


def for_side(entries: list[Entry], side: str) -> list[tuple[float, dict]]:
    """The (time, control) log one service is given: its own entries and those for every service."""
    return [(entry.t, entry.control) for entry in entries if entry.side in (None, side)]


def merge(a_log: list[tuple[float, dict]], b_log: list[tuple[float, dict]] | None) -> list[Entry]:
    """One list of entries from the logs of A and B (B None when not comparing): a control both
    got at the same time is one entry for both; the rest are marked with their service. Any
    order that keeps each service's own order replays exactly; this one is by time."""
    if b_log is None:
        return [Entry(t, None, control) for t, control in a_log]
    out: list[Entry] = []
    i = j = 0
    while i < len(a_log) or j < len(b_log):
        a = a_log[i] if i < len(a_log) else None
        b = b_log[j] if j < len(b_log) else None
        if a is not None and b is not None and a[0] == b[0] and a[1] == b[1]:
            out.append(Entry(a[0], None, a[1]))
            i, j = i + 1, j + 1
        elif b is None or (a is not None and a[0] <= b[0]):
            out.append(Entry(a[0], "a", a[1]))
            i += 1
        else:
            out.append(Entry(b[0], "b", b[1]))
            j += 1
    return out


# Parsing ------------------------------------------------------------------------------------


def parse_time(raw: str, what: str) -> float:
    """A sim time as a link writes it (``12`` or ``12.25``), from 0 to HORIZON."""
    if not _TIME.fullmatch(raw):
        raise ScenarioError(f"{what} must be a time in seconds like 12 or 12.25 (at most three decimals); "
                            f"got {shown(raw)}.", "at" if what == "at" else "do", raw)
    t = float(raw)
    if t > HORIZON:
        raise ScenarioError(f"{what} is {raw} s; a link may name sim times up to {HORIZON:,.0f} s.",
                            "at" if what == "at" else "do", raw)
    return t


def parse_do(text: str, comparison: Comparison) -> list[Entry]:
    """The entries of a ``do`` value, checked in order against the settings each one meets.
    Raises ScenarioError naming the entry (its number and time) and what is wrong with it."""
    if len(text) > MAX_DO_CHARS:
        raise ScenarioError(f"do is {len(text):,} characters long; it may be at most {MAX_DO_CHARS:,}.",
                            "do", None)
    pieces = text.split(",") if text else []
    if len(pieces) > MAX_ENTRIES:
        raise ScenarioError(f"do has {len(pieces):,} entries; it may have at most {MAX_ENTRIES}.", "do", None)
    # A link of one service whose log names a. or b. is a fork: B began as A.
    comparing = comparison.b is not None or re.search(r"[:;][ab]\.", text) is not None
    states = {"a": comparison.a, "b": comparison.b or comparison.a}
    draining = False
    entries: list[Entry] = []
    last = 0.0
    for number, piece in enumerate(pieces, 1):
        stamp, colon, what = piece.partition(":")
        name = f"do's entry {number} ({shown(piece)})"
        if not colon or not what:
            raise ScenarioError(f"{name} must be TIME:CONTROL, like 3:queue=5, 5:burst=50, 6:hiccup=5x3 "
                                "or 9:drain.", "do", piece)
        t = parse_time(stamp, name + "'s time")
        if t < last:
            raise ScenarioError(f"{name} is at {stamp} s, before the entry ahead of it at {format_time(last)} s: "
                                "entries go in the order of their times.", "do", piece)
        last = t
        side, control = _control(what, name, comparing)
        if "set" in control:
            for key in control["set"]:
                if key in ("seed", "join", "preset", "limiter"):
                    raise ScenarioError(f"{name}: {key} cannot change while running; open a link with the new "
                                        "value instead.", "do", piece)
            for s in ("a", "b") if side is None else (side,):
                try:
                    states[s] = states[s].replace(**control["set"])
                except ScenarioError as error:
                    raise ScenarioError(f"{name} at {stamp} s: {error}", "do", piece) from None
        elif control["action"] == "burst" and draining:
            raise ScenarioError(f"{name} at {stamp} s: the run is draining from an earlier entry, so no more "
                                "arrivals come; a burst cannot follow a drain.", "do", piece)
        elif control["action"] == "drain":
            draining = True
        entries.append(Entry(t, side, control))
    return entries


def _control(what: str, name: str, comparing: bool) -> tuple[str | None, dict]:
    if what == "drain":
        return None, {"action": "drain"}
    key, equals, value = what.partition("=")
    if key == "burst" and equals:
        if not re.fullmatch(r"[1-9][0-9]{0,4}", value) or int(value) > BURST_MAX:
            raise ScenarioError(f"{name}: a burst's n must be an integer from 1 to {BURST_MAX:,}; got "
                                f"{shown(value)}.", "do", what)
        return None, {"action": "burst", "n": int(value)}
    if key == "hiccup" and equals:
        match = _HICCUP.fullmatch(value)
        try:
            factor, seconds = (float(match[1]), float(match[2])) if match else (None, None)
            check_hiccup(factor, seconds)
        except (ValueError, ScenarioError):
            raise ScenarioError(f"{name}: a hiccup is hiccup=FACTORxSECONDS, FACTOR from {HICCUP_FACTOR[0]:g} to "
                                f"{HICCUP_FACTOR[1]:g} and SECONDS from {HICCUP_SECONDS[0]:g} to "
                                f"{HICCUP_SECONDS[1]:g}, like hiccup=5x3; got {shown(what)}.", "do", what) from None
        return None, {"action": "hiccup", "factor": factor, "seconds": seconds}
    changes: dict[str, str] = {}
    sides = set()
    for part in what.split(";"):
        key, equals, value = part.partition("=")
        side = None
        if key.startswith((PREFIX, "a.")):
            side, key = key[0], key[2:]
        if not equals or key not in FIELDS:
            known = "KEY=VALUE (a setting), burst=N, hiccup=FACTORxSECONDS or drain"
            raise ScenarioError(f"{name}: {shown(part)} is not a control; an entry is {known}.", "do", part)
        if side is not None and not comparing:
            raise ScenarioError(f"{name}: {side}.{key} is for one service of a comparison, and this link "
                                "has one service; drop the prefix.", "do", part)
        if side is not None and key in SHARED:
            raise ScenarioError(f"{name}: {key} is shared by A and B (they are fed the same arrivals), so "
                                f"it cannot change for {side.upper()} alone; drop the prefix.", "do", part)
        if key in changes:
            raise ScenarioError(f"{name}: {key} is given twice in one entry.", "do", part)
        sides.add(side)
        changes[key] = value
    if len(sides) > 1:
        raise ScenarioError(f"{name}: one entry changes one service, or both; split it in two.", "do", what)
    return sides.pop(), {"set": changes}


@dataclass(frozen=True)
class RunLink:
    """A whole link: the services it starts (settings), what was done to them (``do``), and the
    moment it opens at (``at``, None to play from the start)."""

    comparison: Comparison
    entries: tuple[Entry, ...] = ()
    at: float | None = None

    @classmethod
    def from_link(cls, link: str) -> "RunLink":
        if not isinstance(link, str):
            raise ScenarioError(f"a link must be text; got {shown(link)}.")
        settings, run = split_run(link)
        comparison = Comparison.from_link(settings)
        for key, values in run.items():
            if len(values) > 1:
                raise ScenarioError(f"{key} is given {len(values)} times; give each key once.", key, values[0])
        at = parse_time(run["at"][0], "at") if "at" in run else None
        entries = parse_do(run["do"][0], comparison) if "do" in run else []
        return cls.of(comparison, entries, at)

    @classmethod
    def of(cls, comparison: Comparison, entries, at: float | None = None) -> "RunLink":
        if comparison.b is None and any(entry.side for entry in entries):
            comparison = Comparison(comparison.a, comparison.a, ())  # a fork: B began as A
        return cls(comparison, tuple(entries), at)

    def to_link(self, at: float | None = None) -> str:
        """The link; ``at`` (or the link's own moment) adds ``at=``."""
        link = self.comparison.to_link()
        if self.entries:
            link += "&do=" + format_do(list(self.entries))
        moment = self.at if at is None else at
        if moment is not None:
            link += f"&at={format_time(moment)}"
        return link

    def log(self, side: str) -> list[tuple[float, dict]]:
        return for_side(list(self.entries), side)


def split_run(link: str) -> tuple[str, dict[str, list[str]]]:
    """A link's settings (as a query) and its run keys (``do``, ``at``: decoded values)."""
    settings, run = [], {}
    for piece in _query_of(link).split("&"):
        key = piece.partition("=")[0]
        if key in RUN_KEYS:
            run.setdefault(key, []).append(_query_pairs(piece)[0][1])
        else:
            settings.append(piece)
    return "&".join(settings), run
