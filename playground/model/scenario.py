"""Scenarios: the validated parameters of one simulated service, and the link vocabulary.

A scenario is everything needed to reproduce a run: arrivals, queue, workers, downstream,
memory and seed. It travels as the query string of a share link (``v=1&preset=handbook&rate=80``)
and as JSON from the control API; both are parsed here and nowhere else, and bad values are
refused with a `ScenarioError` whose message is a sentence naming the key, the value and what
is allowed.

`FIELDS` describes every key (range, default, unit, label, hint, group); the page builds its
sliders from it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

from playground.model.presets import PRESETS

LINK_VERSION = 1
"""The only link version there is; ``v=1`` starts every canonical link."""

GROUPS = ("Arrivals", "Queue", "Workers", "Downstream", "Retries", "Memory", "Run")
"""The slider groups, in display order."""


class ScenarioError(ValueError):
    """A scenario value, key or link was refused; ``str(e)`` is a sentence saying why."""

    def __init__(self, message: str, field: str | None = None, value: object = None) -> None:
        ValueError.__init__(self, message)
        self.field = field
        """The key at fault (as given, even if unknown), or None if no single key is."""
        self.value = value
        """The offending raw value, or None."""

    def __reduce__(self):
        # Keep field and value when an error crosses a process boundary.
        return (type(self), (str(self), self.field, self.value))


# Numbers as a link may spell them: plain decimals, optionally with an exponent. Stricter than
# int()/float(), which would also take "1_000", " 5", "inf", "nan" and non-ASCII digits.
_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# Longer number texts are out of every range anyway; the cap keeps int() off huge inputs.
_MAX_NUMBER_TEXT = 40


#: The most a link may hold, checked before it is parsed. The longest real link, a comparison with
#: every key set on both sides, is about 1 KB and 55 keys; the rest is room for a control log key
#: of a few KB. Unbounded, a 47 KB link held the event loop about 1 s and answered 2.4 MB of errors.
MAX_LINK_CHARS = 8192
MAX_LINK_KEYS = 100
#: A lenient parse (the page's verdict) reports this many bad keys and counts the rest.
ERRORS_SHOWN = 3


class LinkTooLong(ScenarioError):
    """A link past MAX_LINK_CHARS or MAX_LINK_KEYS, refused whole before any of it is parsed."""


def check_link_size(link: str | bytes) -> None:
    """Refuse a link too long to parse, in time linear in its length (one count, no split)."""
    if len(link) > MAX_LINK_CHARS:
        raise LinkTooLong(f"the link is {len(link):,} characters long; a link may be at most "
                          f"{MAX_LINK_CHARS:,}.", "link", None)
    keys = link.count(b"&" if isinstance(link, bytes) else "&") + 1
    if keys > MAX_LINK_KEYS:
        raise LinkTooLong(f"the link has {keys:,} keys; a link may have at most {MAX_LINK_KEYS}.", "link", None)


def format_number(value: int | float) -> str:
    """Format a number canonically: integers as ``20``, floats shortest round-trip (``0.15``, ``2``)."""
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def link_text(value: str | int | float) -> str:
    """A field's value as a link writes it: a choice as itself, a number by format_number."""
    return value if isinstance(value, str) else format_number(value)


def shown(raw: object) -> str:
    """Quote a refused value for an error message, cut short if it is long."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Field:
    """One scenario parameter: its link key, kind, range, default and how to present it."""

    key: str
    """The link key and the Scenario attribute name."""
    kind: str
    """'int', 'float' or 'choice'."""
    default: int | float | str
    minimum: int | float | None
    """Smallest allowed value (None for choices)."""
    maximum: int | float | None
    """Largest allowed value (None for choices)."""
    choices: tuple[str, ...]
    """Allowed values of a choice field, in display order (empty for numbers)."""
    unit: str
    """Unit for display, e.g. 's' or 'items/s' ('' if none)."""
    label: str
    """Short human label, e.g. 'Queue size'."""
    hint: str
    """One line saying what the parameter does."""
    group: str
    """Which of GROUPS the slider belongs to."""
    zero_means: str | None = None
    """What 0 means when 0 switches the thing off, e.g. 'unbounded' (None otherwise)."""

    def allowed(self) -> str:
        """Say what values are allowed, e.g. 'an integer from 0 to 10000 (0 = unbounded)'."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        noun = "an integer" if self.kind == "int" else "a number"
        text = f"{noun} from {format_number(self.minimum)} to {format_number(self.maximum)}"
        # Counts need no unit; measured quantities (seconds, rates) get theirs.
        if self.kind == "float" and self.unit:
            text += f" {self.unit}"
        if self.zero_means:
            text += f" (0 = {self.zero_means})"
        return text

    def error(self, raw: object) -> ScenarioError:
        """The error for a refused value of this field."""
        return ScenarioError(f"{self.key} must be {self.allowed()}; got {shown(raw)}.", self.key, raw)

    def parse(self, raw: object) -> int | float | str:
        """Turn a raw value (link text, JSON number or string) into this field's type, or raise ScenarioError."""
        if self.kind == "choice":
            if isinstance(raw, str) and raw in self.choices:
                return raw
            raise self.error(raw)
        value = _to_int(raw) if self.kind == "int" else _to_float(raw)
        if value is None or not (self.minimum <= value <= self.maximum):
            raise self.error(raw)
        return value

    def to_json(self) -> dict[str, Any]:
        """This field as a JSON-friendly dict, for the page's sliders."""
        return {
            "key": self.key,
            "kind": self.kind,
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices),
            "unit": self.unit,
            "label": self.label,
            "hint": self.hint,
            "group": self.group,
            "zero_means": self.zero_means,
        }


def _to_int(raw: object) -> int | None:
    """An int from an int, an integral float or integer text; None if it is none of those."""
    if isinstance(raw, bool):  # bool is an int subclass, but True is not a queue size
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str) and len(raw) <= _MAX_NUMBER_TEXT and _INT_TEXT.fullmatch(raw):
        return int(raw)
    return None


def _to_float(raw: object) -> float | None:
    """A finite float from an int, a float or decimal text; None if it is none of those."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        try:
            value = float(raw)
        except OverflowError:
            return None
    elif isinstance(raw, float):
        value = raw
    elif isinstance(raw, str) and len(raw) <= _MAX_NUMBER_TEXT and _FLOAT_TEXT.fullmatch(raw):
        value = float(raw)
    else:
        return None
    if not math.isfinite(value):
        return None
    return value + 0.0  # turns -0.0 into 0.0, so equal scenarios print the same link


def _int(key, default, minimum, maximum, label, hint, group, unit="", zero_means=None) -> Field:
    return Field(key, "int", default, minimum, maximum, (), unit, label, hint, group, zero_means)


def _float(key, default, minimum, maximum, label, hint, group, unit="", zero_means=None) -> Field:
    return Field(key, "float", float(default), float(minimum), float(maximum), (), unit, label, hint, group, zero_means)


def _choice(key, default, choices, label, hint, group) -> Field:
    return Field(key, "choice", default, None, None, tuple(choices), "", label, hint, group)


FIELDS: dict[str, Field] = {
    field.key: field
    for field in (
        _choice(
            "arrivals", "poisson", ("steady", "poisson", "bursts", "wave", "asap"), "Arrival pattern",
            "How items arrive: steady, poisson (random), bursts on top of poisson, a poisson wave, "
            "or asap (closed producers only, no pause between items).",
            "Arrivals",
        ),
        _float("rate", 20, 0.1, 2000, "Arrival rate", "Mean arrivals per second, all producers together.",
               "Arrivals", unit="items/s"),
        _int("burst", 50, 1, 10000, "Burst size", "Items that arrive at once in each burst (arrivals=bursts).",
             "Arrivals", unit="items"),
        _float("period", 5, 0.1, 3600, "Burst period",
               "Seconds between bursts, and the period of the wave (arrivals=bursts or wave).",
               "Arrivals", unit="s"),
        _choice(
            "producer", "open", ("open", "closed"), "Producer",
            "open: every arrival is its own request awaiting put; closed: producers loop, "
            "each waiting for its put before producing the next.",
            "Arrivals",
        ),
        _int("producers", 1, 1, 64, "Producers", "Number of closed producers (producer=closed).", "Arrivals"),
        _int("items", 0, 0, 1000000, "Items", "Stop producing after this many items, then drain and shut down.",
             "Run", unit="items", zero_means="endless"),
        _choice(
            "join", "after-producers", ("after-producers", "at-start"), "When main joins",
            "When main() awaits queue.join() before shutting the queue down: after the producers "
            "are done (right), or at once, as the handbook prints it: join() returns before "
            "anything was put, shutdown() follows and the producer's put raises QueueShutDown.",
            "Run",
        ),
        _int("queue", 20, 0, 10000, "Queue size", "The queue's maxsize: items it holds before put has to wait.",
             "Queue", unit="items", zero_means="unbounded"),
        _choice(
            "policy", "block", ("block", "timeout", "reject", "drop-oldest"), "When full",
            "What put does when the queue is full: wait, wait up to put_timeout, reject the new item, "
            "or drop the oldest queued item.",
            "Queue",
        ),
        _float("put_timeout", 1, 0.001, 3600, "Put timeout", "With policy=timeout, a put gives up after this long.",
               "Queue", unit="s"),
        _float("max_age", 0, 0, 3600, "Max age", "A worker discards an item older than this when it takes it.",
               "Queue", unit="s", zero_means="off"),
        _choice("discipline", "fifo", ("fifo", "lifo", "adaptive-lifo"), "Queue order",
                "Which item a worker takes next: the oldest (fifo, asyncio.Queue), the newest (lifo, "
                "asyncio.LifoQueue), or the oldest until a queue forms and the newest while it stands "
                "(adaptive-lifo, Facebook's: LIFO once the queue has not been empty for codel_interval).",
                "Queue"),
        _choice("codel", "off", ("off", "on"), "CoDel",
                "Controlled Delay (RFC 8289): a worker drops the item it takes once the time items "
                "spend in the queue has stayed above codel_target for codel_interval, and drops again "
                "at intervals shrinking as interval/sqrt(drops) while it stays above.", "Queue"),
        _float("codel_target", 0.005, 0.001, 60, "CoDel target",
               "The queueing delay CoDel accepts (RFC 8289: 5 ms).", "Queue", unit="s"),
        _float("codel_interval", 0.1, 0.001, 600, "CoDel interval",
               "How long the queueing delay may stay above the target before CoDel drops (RFC 8289: "
               "100 ms); adaptive-lifo's window too.", "Queue", unit="s"),
        _int("workers", 4, 1, 256, "Workers", "Worker tasks taking items from the queue.", "Workers"),
        _int("limit", 4, 0, 256, "Semaphore limit", "Semaphore permits around the downstream call.",
             "Workers", zero_means="no semaphore"),
        _choice("limiter", "fixed", ("fixed", "aimd", "vegas", "gradient2"), "Limiter",
                "How many downstream calls may run at once: a fixed semaphore of limit permits, or a "
                "limit that starts at limit and moves (Netflix concurrency-limits): aimd (a failed call "
                "multiplies it by aimd_backoff, one that succeeds while at least half of it is in use "
                "adds one), vegas (grows while calls are as fast as the fastest, shrinks as they slow), "
                "gradient2 (shrinks while calls are slower than tolerance times their long-run average).",
                "Workers"),
        _int("limit_min", 1, 1, 256, "Least limit", "The lowest an adaptive limiter's limit goes.", "Workers"),
        _int("limit_max", 256, 1, 256, "Most limit", "The highest an adaptive limiter's limit goes.", "Workers"),
        _float("aimd_backoff", 0.9, 0.5, 0.99, "AIMD backoff",
               "What a failed call multiplies the aimd limit by (Netflix's default 0.9).", "Workers"),
        _int("vegas_alpha", 3, 1, 20, "Vegas alpha",
             "Vegas grows its limit by log10(limit) while fewer than alpha × log10(limit) calls are "
             "estimated to queue at the downstream (Netflix's default 3).", "Workers"),
        _int("vegas_beta", 6, 1, 40, "Vegas beta",
             "Vegas shrinks its limit by log10(limit) once more than beta × log10(limit) calls are "
             "estimated to queue (Netflix's default 6); it must be above vegas_alpha.", "Workers"),
        _float("gradient_tolerance", 1.5, 1.0, 4.0, "Gradient2 tolerance",
               "How many times slower than their long-run average calls may get before gradient2 "
               "shrinks its limit (Netflix's default 1.5).", "Workers"),
        _float("gradient_smoothing", 0.2, 0.01, 1.0, "Gradient2 smoothing",
               "The part of the way gradient2 moves its limit toward the new estimate at each call "
               "(Netflix's default 0.2).", "Workers"),
        _float("service_time", 0.1, 0.001, 60, "Service time", "Mean seconds of one downstream call.",
               "Downstream", unit="s"),
        _choice("service_dist", "exponential", ("constant", "exponential", "lognormal"), "Service time spread",
                "Distribution of the downstream call time around its mean.", "Downstream"),
        _float("timeout", 0, 0, 3600, "Call timeout", "Processing timeout around the downstream call.",
               "Downstream", unit="s", zero_means="none"),
        _choice("abandon", "stop", ("stop", "continue"), "On timeout",
                "What a timed-out call does in the downstream: stop, or continue to its end "
                "(still in flight, slowing the others) while the caller moves on.", "Downstream"),
        _int("capacity", 0, 0, 256, "Downstream capacity",
             "Concurrent calls the downstream takes before it slows down.",
             "Downstream", unit="calls", zero_means="unlimited"),
        _float("contention", 0, 0, 10, "Contention",
               "Past capacity, how much each extra call slows every call (locks, pools, GC): "
               "throughput falls instead of levelling off (needs a capacity).",
               "Downstream", zero_means="none"),
        _float("rate_limit", 0, 0, 10000, "Rate limit",
               "Calls a second the downstream admits (a token bucket); a call over it fails at once "
               "as throttled (HTTP 429).", "Downstream", unit="calls/s", zero_means="none"),
        _int("rate_burst", 0, 0, 100000, "Rate burst",
             "Calls the downstream admits at once: the token bucket's depth.",
             "Downstream", unit="calls", zero_means="one second's worth"),
        _int("retries", 0, 0, 10, "Retries",
             "Times a worker retries a failed call (timed out or throttled), after a backoff, "
             "without holding its permit.", "Retries", zero_means="none"),
        _float("backoff", 0.1, 0.001, 60, "Backoff",
               "Seconds before the first retry; doubles each retry, up to the cap.", "Retries", unit="s"),
        _float("backoff_cap", 10, 0.001, 600, "Backoff cap", "The longest backoff.", "Retries", unit="s"),
        _choice("jitter", "full", ("none", "full", "equal", "decorrelated"), "Jitter",
                "How a backoff is randomised: none, full, equal or decorrelated (AWS's variants).",
                "Retries"),
        _int("client_retries", 0, 0, 10, "Client retries",
             "Open producers only: a request whose put was rejected or timed out comes back after "
             "a backoff, as the same item, up to this many times.", "Retries", zero_means="none"),
        _float("retry_budget", 0, 0, 1, "Retry budget",
               "Retries may be at most this fraction of first attempts over the last 10 s; "
               "past it, a failure is final.", "Retries", zero_means="no budget"),
        _int("memory", 0, 0, 1000000, "Memory limit", "Items the service may hold; past it, it crashes out of memory.",
             "Memory", unit="items", zero_means="no limit"),
        _float("restart", 2, 0.1, 3600, "Restart time", "Seconds an out-of-memory crash takes to restart.",
               "Memory", unit="s"),
        _int("seed", 1, 0, 4294967295, "Seed", "Random seed: the same seed gives the same run.", "Run"),
    )
}
"""Every scenario parameter by link key, in the order links and the page list them."""

_LINK_KEYS = ("v", "preset", *FIELDS)

#: The keys each cross-field rule (Scenario.__post_init__) reads besides the one it names: a
#: change that breaks a rule through one of these is refused under the key that was changed.
CROSS_FIELD = {
    "arrivals": ("producer", "queue", "policy", "rate_limit", "retries", "retry_budget", "items"),
    "join": ("producer", "arrivals", "items"),
    "limit": ("limit_min", "limit_max", "limiter"),
    "vegas_beta": ("vegas_alpha",),
    "discipline": ("policy",),
}


def as_changed(error: ScenarioError, changes: Mapping[str, object]) -> ScenarioError:
    """``error`` under the changed key that broke its rule, when the key it names was not changed
    (a control that lowers limit_max below limit is refused as limit_max, not as limit)."""
    if error.field in changes:
        return error
    for key in CROSS_FIELD.get(error.field, ()):
        if key in changes:
            return ScenarioError(str(error), key, changes[key])
    return error


@dataclass(frozen=True, slots=True)
class Scenario:
    """The validated parameters of one simulated service.

    Constructing one validates it: every value is parsed by its `Field` (so raw strings work
    too) and the cross-field rules are checked, so a Scenario that exists is a valid one.
    """

    arrivals: str = FIELDS["arrivals"].default
    rate: float = FIELDS["rate"].default
    burst: int = FIELDS["burst"].default
    period: float = FIELDS["period"].default
    producer: str = FIELDS["producer"].default
    producers: int = FIELDS["producers"].default
    items: int = FIELDS["items"].default
    join: str = FIELDS["join"].default
    queue: int = FIELDS["queue"].default
    policy: str = FIELDS["policy"].default
    put_timeout: float = FIELDS["put_timeout"].default
    max_age: float = FIELDS["max_age"].default
    discipline: str = FIELDS["discipline"].default
    codel: str = FIELDS["codel"].default
    codel_target: float = FIELDS["codel_target"].default
    codel_interval: float = FIELDS["codel_interval"].default
    workers: int = FIELDS["workers"].default
    limit: int = FIELDS["limit"].default
    limiter: str = FIELDS["limiter"].default
    limit_min: int = FIELDS["limit_min"].default
    limit_max: int = FIELDS["limit_max"].default
    aimd_backoff: float = FIELDS["aimd_backoff"].default
    vegas_alpha: int = FIELDS["vegas_alpha"].default
    vegas_beta: int = FIELDS["vegas_beta"].default
    gradient_tolerance: float = FIELDS["gradient_tolerance"].default
    gradient_smoothing: float = FIELDS["gradient_smoothing"].default
    service_time: float = FIELDS["service_time"].default
    service_dist: str = FIELDS["service_dist"].default
    timeout: float = FIELDS["timeout"].default
    abandon: str = FIELDS["abandon"].default
    capacity: int = FIELDS["capacity"].default
    contention: float = FIELDS["contention"].default
    rate_limit: float = FIELDS["rate_limit"].default
    rate_burst: int = FIELDS["rate_burst"].default
    retries: int = FIELDS["retries"].default
    backoff: float = FIELDS["backoff"].default
    backoff_cap: float = FIELDS["backoff_cap"].default
    jitter: str = FIELDS["jitter"].default
    client_retries: int = FIELDS["client_retries"].default
    retry_budget: float = FIELDS["retry_budget"].default
    memory: int = FIELDS["memory"].default
    restart: float = FIELDS["restart"].default
    seed: int = FIELDS["seed"].default
    preset: str | None = None
    """The preset this scenario started from (its link is written relative to it), or None."""

    def __post_init__(self) -> None:
        for key, field in FIELDS.items():
            object.__setattr__(self, key, field.parse(getattr(self, key)))
        if self.preset is not None:
            _check_preset(self.preset)
        if self.arrivals == "asap" and self.producer == "open":
            raise ScenarioError(
                "arrivals=asap needs producer=closed: open arrivals each come at their own time, so "
                "'as soon as possible' only makes sense for producers that loop; "
                "set producer=closed or choose steady, poisson, bursts or wave.",
                "arrivals",
                "asap",
            )
        if self.arrivals == "asap" and (self.queue == 0 or self.policy not in ("block", "timeout")):
            # An asap producer only pauses when its put waits; if it never waits it would
            # produce forever without time passing, in asyncio and here alike.
            raise ScenarioError(
                "arrivals=asap needs a put that waits: a bounded queue (queue of 1 or more) and "
                f"policy block or timeout; with queue={self.queue} and policy={self.policy} an asap "
                "producer never pauses, so no time would ever pass.",
                "arrivals",
                "asap",
            )
        if (self.arrivals == "asap" and self.rate_limit and not self.items
                and (not self.retries or self.retry_budget)):
            # Once the bucket is empty every call fails at once (429) and, unless it sleeps in a
            # backoff, the worker takes the next item at the same instant: the queue never fills,
            # the producer never waits, and the clock never moves (asyncio too would spin). A
            # retry budget makes most failures final at once, so it spins too (time crawls).
            why = ("retries=0" if not self.retries else
                   f"retry_budget={self.retry_budget:g} (past it a failure is final at once)")
            raise ScenarioError(
                "arrivals=asap with a rate_limit needs retries of 1 or more and no retry_budget, or a "
                f"finite items: with rate_limit={self.rate_limit:g} and {why} a throttled call fails "
                "at once, the producer makes the next item at the same instant, and simulated time "
                "would (almost) never pass.",
                "arrivals",
                "asap",
            )

        if self.limiter != "fixed" and not self.limit_min <= self.limit <= self.limit_max:
            raise ScenarioError(
                f"limiter={self.limiter} starts at limit and stays from limit_min to limit_max; got limit={self.limit}, "
                f"limit_min={self.limit_min}, limit_max={self.limit_max}: set limit_min <= limit <= limit_max"
                + (" (limit=0, no semaphore, has nothing to adapt)." if self.limit == 0 else "."),
                "limit",
                self.limit,
            )
        if self.vegas_alpha >= self.vegas_beta:
            raise ScenarioError(
                f"vegas_beta must be above vegas_alpha (Vegas grows below alpha and shrinks above beta); "
                f"got vegas_alpha={self.vegas_alpha}, vegas_beta={self.vegas_beta}.",
                "vegas_beta",
                self.vegas_beta,
            )
        if self.policy == "drop-oldest" and self.discipline != "fifo":
            # The program drops with queue.get_nowait(), which takes the newest item from a LIFO queue.
            raise ScenarioError(
                f"policy=drop-oldest needs discipline=fifo: with discipline={self.discipline} the queue "
                "hands out its newest item, so making room would drop the newest, not the oldest; "
                "set discipline=fifo or choose policy block, timeout or reject.",
                "discipline",
                self.discipline,
            )
        if self.join == "at-start" and (self.producer != "closed" or self.arrivals != "asap" or not self.items):
            raise ScenarioError(
                "join=at-start is the handbook's main() as printed, which joins the queue before its "
                "producers have put anything; it needs producer=closed, arrivals=asap and items of 1 "
                f"or more (got producer={self.producer}, arrivals={self.arrivals}, items={self.items}).",
                "join",
                "at-start",
            )

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_preset(cls, name: str) -> Scenario:
        """The scenario of a preset, unchanged."""
        return _preset_scenario(_check_preset(name))

    @classmethod
    def from_link(cls, link: str) -> Scenario:
        """Parse a share link: a bare query (``queue=5&policy=reject``), ``?queue=5`` or a whole URL."""
        if not isinstance(link, str):
            raise ScenarioError(f"a link must be text; got {shown(link)}.")
        return cls._from_pairs(_query_pairs(_query_of(link)))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Scenario:
        """Build from JSON: the link keys with numbers, numeric strings or strings as values."""
        if not isinstance(data, Mapping):
            raise ScenarioError(f"a scenario must be an object of key: value pairs; got {shown(data)}.")
        return cls._from_pairs(data.items())

    @classmethod
    def _from_pairs(cls, pairs: Iterable[tuple[object, object]]) -> Scenario:
        """Apply link keys in the order given, over the preset (if any) or the defaults."""
        seen: dict[object, object] = {}
        preset: str | None = None
        changes: dict[str, object] = {}
        for key, raw in pairs:
            if key in seen:
                raise ScenarioError(
                    f"{key} is given twice ({shown(seen[key])} and {shown(raw)}); give each key once.",
                    str(key),
                    raw,
                )
            seen[key] = raw
            if key == "v":
                _check_version(raw)
            elif key == "preset":
                # JSON may say "no preset" explicitly; a link has no null.
                preset = None if raw is None else _check_preset(raw)
            elif key in FIELDS:
                changes[key] = FIELDS[key].parse(raw)
            else:
                raise _unknown_key(key, raw)
        base = _preset_scenario(preset) if preset is not None else _DEFAULTS
        return base._with(changes)

    def replace(self, **changes: object) -> Scenario:
        """A copy with some fields changed, validated like a link (raw strings or numbers); keeps `preset`."""
        parsed: dict[str, object] = {}
        for key, raw in changes.items():
            if key in FIELDS:
                parsed[key] = FIELDS[key].parse(raw)
            elif key == "preset":
                raise ScenarioError(
                    "preset cannot be changed by replace; start from Scenario.from_preset(name) instead.",
                    "preset",
                    raw,
                )
            elif key == "v":
                raise ScenarioError(
                    "v is the link's version, not a parameter; it cannot be changed.", "v", raw)
            else:
                raise _unknown_key(key, raw)
        return self._with(parsed)

    def _with(self, changes: Mapping[str, object]) -> Scenario:
        values = {key: getattr(self, key) for key in FIELDS}
        values.update(changes)
        return Scenario(**values, preset=self.preset)

    # -- writing ----------------------------------------------------------------------------

    def to_link(self) -> str:
        """The canonical link query: ``v=1``, the preset if any, then every key that differs from it."""
        base = _preset_scenario(self.preset) if self.preset is not None else _DEFAULTS
        parts = [f"v={LINK_VERSION}"]
        if self.preset is not None:
            parts.append("preset=" + quote(self.preset, safe=""))
        for key in FIELDS:
            value = getattr(self, key)
            if value != getattr(base, key):
                text = link_text(value)
                parts.append(f"{key}=" + quote(text, safe=""))
        return "&".join(parts)

    def alone_link(self) -> str:
        """A link that opens this scenario alone. ``to_link()`` names the preset, and a comparison
        preset's link opens two services; this one is written from the preset its A is built on."""
        preset = PRESETS.get(self.preset) if self.preset is not None else None
        if preset is None or not preset.b:
            return self.to_link()
        return dataclasses.replace(self, preset=preset.of).to_link()

    def to_dict(self) -> dict[str, Any]:
        """Every field plus `preset`, as JSON-friendly values."""
        data: dict[str, Any] = {key: getattr(self, key) for key in FIELDS}
        data["preset"] = self.preset
        return data


_DEFAULTS = Scenario()


@lru_cache(maxsize=None)
def _preset_scenario(name: str) -> Scenario:
    """The scenario a preset stands for (validated: a preset with a bad value fails loudly here)."""
    overrides = PRESETS[name].overrides
    for key in overrides:
        if key not in FIELDS:
            raise _unknown_key(key, overrides[key])
    return Scenario(**overrides, preset=name)


def _check_preset(raw: object) -> str:
    if isinstance(raw, str) and raw in PRESETS:
        return raw
    raise ScenarioError(f"preset must be one of {', '.join(PRESETS)}; got {shown(raw)}.", "preset", raw)


def _check_version(raw: object) -> None:
    if _to_int(raw) != LINK_VERSION:
        raise ScenarioError(
            f"v must be {LINK_VERSION}, the only link version there is; got {shown(raw)}.", "v", raw
        )


def _unknown_key(key: object, raw: object, list_known: bool = True, suggest: bool = True) -> ScenarioError:
    if isinstance(key, str) and key.startswith("b.") and key[2:] in FIELDS:
        # A comparison link (playground/compare.py): one scenario has no service B.
        return ScenarioError(f"{key} belongs to a comparison of two services (b. keys describe B), and "
                             "this reads one service; open the link in the page, or run it with "
                             "backpressure-playground run 'LINK'.", key, raw)
    # The list once per answer: a link of many unknown keys repeated it per key (2.4 MB for 6,000).
    message = f"unknown key {shown(key)}" + (f"; known keys: {', '.join(_LINK_KEYS)}." if list_known else ".")
    # difflib costs about 0.5 ms a key: only for an error someone reads, and no key is 40 long.
    if suggest and isinstance(key, str) and len(key) <= 40:
        close = difflib.get_close_matches(key, _LINK_KEYS, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
    return ScenarioError(message, key if isinstance(key, str) else None, raw)


def _query_of(link: str) -> str:
    """The query part of a link given as a bare query, ``?query`` or a whole URL (LinkTooLong past the caps)."""
    check_link_size(link)
    link = link.strip()
    before, mark, after = link.partition("?")
    if mark and not ("=" in before or "&" in before):
        # "?q", "/path?q" or "http://host/?q": the query is what follows the first "?".
        return after.partition("#")[0]
    if "://" in link or link.startswith("/"):
        return urlsplit(link).query  # a URL without a query: the defaults
    return link.partition("#")[0]


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """Split a query into decoded (key, value) pairs, keeping duplicates and empty values."""
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue  # "a=1&&b=2" or a trailing "&": nothing was said, so nothing to refuse
        key, _, value = piece.partition("=")
        pairs.append((unquote_plus(key, errors="replace"), unquote_plus(value, errors="replace")))
    return pairs


def repeated_message(key: str, values: list[str], instead: str | None) -> str:
    """A key given more than once, named with its values; ``instead`` says what applies."""
    times = "twice" if len(values) == 2 else f"{len(values)} times"
    listed = " and ".join(shown(value) for value in values[:3]) + (", …" if len(values) > 3 else "")
    none = "neither" if len(values) == 2 else "none"
    return f"{key} is given {times} ({listed}); give each key once" + (f"; {none} is used: {instead}" if instead else "") + "."


def repeated_error(key: str, values: list[str], scenario: Scenario) -> ScenarioError:
    """A key of the link given more than once, and what the page uses instead."""
    if key in FIELDS:
        source = f"the preset {scenario.preset}'s" if scenario.preset else "the default"
        instead = f"{key} is {link_text(getattr(scenario, key))}, {source}"
    else:
        instead = "no preset applies" if key == "preset" else None
    return ScenarioError(repeated_message(key, values, instead), key, values[0])


def scenario_from_link_leniently(link: str) -> tuple[Scenario, list[ScenarioError]]:
    """Parse a link key by key: the scenario made of every valid key, and an error for each bad one.

    Where `Scenario.from_link` refuses the whole link at its first bad key, this keeps going: a bad
    value, an unknown key, a repeated key (all its values) or a bad ``v`` each add a
    `ScenarioError` naming the key, and the key is left out. A bad ``preset`` is left out too (the
    valid keys apply over the defaults). If the valid keys together break a cross-field rule
    (``arrivals=asap`` with an open producer), the key named by that rule is left out as well.
    Only the first unknown key's error lists the known keys.
    """
    errors: list[ScenarioError] = []
    if not isinstance(link, str):
        return _DEFAULTS, [ScenarioError(f"a link must be text; got {shown(link)}.")]
    pairs = _query_pairs(_query_of(link))
    given: dict[str, list[str]] = {}
    for key, raw in pairs:
        given.setdefault(key, []).append(raw)
    # A repeated key is left out whole, as every bad key is (the CLI refuses the link): neither
    # value is a guess the link made. Its error, made below, says what applies instead.
    repeated = [key for key, values in given.items() if len(values) > 1]
    preset: str | None = None
    changes: dict[str, object] = {}
    listed = False  # the known keys named in an error already
    for key, raw in pairs:
        if key in repeated:
            continue
        try:
            if key == "v":
                _check_version(raw)
            elif key == "preset":
                preset = _check_preset(raw)
            elif key in FIELDS:
                changes[key] = FIELDS[key].parse(raw)
            else:
                # Past the errors a page shows, a bad key is only counted: no list, no guess.
                unknown = _unknown_key(key, raw, list_known=not listed, suggest=len(errors) < ERRORS_SHOWN)
                listed = True
                raise unknown
        except ScenarioError as error:
            errors.append(error)
    base = _preset_scenario(preset) if preset is not None else _DEFAULTS
    while True:
        try:
            scenario = base._with(changes)
            return scenario, [repeated_error(key, given[key], scenario) for key in repeated] + errors
        except ScenarioError as error:
            errors.append(error)
            if error.field in changes:
                del changes[error.field]
            elif changes:
                changes.popitem()  # the rule named a key the link did not change: drop the last change
            else:  # pragma: no cover - a preset is always valid by itself
                return _DEFAULTS, errors
