"""A preset's lesson as claims: sentences the page may show, each with a check over headless runs.

Every sentence of a preset's notice that states an outcome ("with a limit of 8 goodput doubles")
is a claim here, and ``tests/test_lessons.py`` runs every claim of every preset: a claim that no
longer holds fails CI. A claim also names the link keys it depends on, so a page whose link
changes one of them knows the sentence may no longer be true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .scenario import Scenario
from .sim.engine import Engine


@dataclass(frozen=True)
class Run:
    """A headless run's summary, and its goodput per 10 s."""

    summary: dict
    goodput: tuple[float, ...]  # items a second in each 10-s span from t = 0

    def __getitem__(self, key: str):
        return self.summary[key]


#: The page's Hiccup button: the downstream 5 times slower for 3 s. Claims about a hiccup press
#: it at HICCUP_AT, so what they check is what a visitor who presses it sees.
HICCUP = {"action": "hiccup", "factor": 5, "seconds": 3}
HICCUP_AT = 10.0


@lru_cache(maxsize=64)
def run(link: str, until: float, hiccup: bool = False) -> Run:
    """Run ``link`` headless to ``until`` seconds, pressing Hiccup at HICCUP_AT if asked
    (cached: claims share runs)."""
    engine = Engine(Scenario.from_link(link), event_cap=0, keep_windows=10**6)
    if hiccup:
        engine.run(HICCUP_AT)
        engine.apply(HICCUP)
    engine.run(until)
    spans: dict[int, int] = {}
    for window in engine.metrics.windows:
        spans[int(window.start // 10)] = spans.get(int(window.start // 10), 0) + window.outcomes["completed"]
    goodput = tuple(spans.get(i, 0) / 10 for i in range(int(until // 10)))
    return Run(engine.summary(), goodput)


@dataclass(frozen=True)
class Claim:
    """One sentence about an outcome, and how to check it."""

    sentence: str
    depends_on: tuple[str, ...]
    """Link keys whose change can make the sentence false."""
    check: Callable[[str], str | None] = field(repr=False)
    """Given the preset's link, None if the claim holds, else what was seen instead."""


def changed(link: str, **changes) -> str:
    """``link`` with some keys changed (a link may give each key only once)."""
    return Scenario.from_link(link).replace(**changes).to_link()


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _no_semaphore_limit_helps(link: str) -> str | None:
    hammered, limited = run(link, 60), run(changed(link, limit=8), 60)
    if (_ratio(limited["completed"], hammered["completed"]) >= 1.5
            and limited["latency_p99"] <= 0.5 * hammered["latency_p99"]):
        return None
    return (f"limit=8 completed {limited['completed']} (p99 {limited['latency_p99']:.2f} s) against "
            f"{hammered['completed']} (p99 {hammered['latency_p99']:.2f} s) without a limit")


def _no_semaphore_collapses(link: str) -> str | None:
    seen = run(link, 60)
    if seen["throughput"] < 0.6 * 50 and max(seen.goodput[1:]) < 0.6 * 50:
        return None
    return f"throughput {seen['throughput']:.1f}/s, goodput per 10 s {seen.goodput}"


def _oom_crashes(link: str) -> str | None:
    seen = run(link, 40)
    return None if seen["crashes"] >= 1 else f"{seen['crashes']} crashes in 40 s"


def _oom_bound_alone_still_crashes(link: str) -> str | None:
    seen = run(changed(link, queue=50), 120)
    return None if seen["crashes"] >= 1 and seen["lost"] > 0 else f"{seen['crashes']} crashes with queue=50"


def _oom_shedding_stops_the_crash(link: str) -> str | None:
    seen = run(changed(link, queue=50, policy="reject"), 300)
    if seen["crashes"] == 0 and seen["rejected"] > 0:
        return None
    return f"{seen['crashes']} crashes, {seen['rejected']} rejected with queue=50&policy=reject"


def _storm_stays_down(link: str) -> str | None:
    seen = run(link, 120, hiccup=True)
    before, after = seen.goodput[0], seen.goodput[2:]  # spans from 20 s: the hiccup ended at 13 s
    if before > 0.95 * 70 and max(after) < before / 3:
        return None
    return f"goodput per 10 s {seen.goodput}"


def _budget_recovers(link: str) -> str | None:
    seen = run(link, 120, hiccup=True)
    before, after = seen.goodput[0], seen.goodput[2:]
    if before > 0.95 * 70 and min(after) > 0.9 * before:
        return None
    return f"goodput per 10 s {seen.goodput}"


def _serves_everything_until_the_hiccup(link: str) -> str | None:
    seen = run(link, 120)
    return None if min(seen.goodput) > 0.95 * 70 else f"goodput per 10 s {seen.goodput} with no hiccup"


#: Preset name -> its claims.
_WORLD = ("rate", "arrivals", "workers", "limit", "capacity", "contention", "service_time", "timeout",
          "abandon", "retries", "jitter", "backoff", "backoff_cap", "retry_budget", "queue", "service_dist")

CLAIMS: dict[str, tuple[Claim, ...]] = {
    "retry-storm": (
        Claim("It serves everything it is sent.", _WORLD, _serves_everything_until_the_hiccup),
        Claim("After one Hiccup, goodput stays under a third of what it was for minutes after the "
              "hiccup is over.", _WORLD, _storm_stays_down),
    ),
    "retry-budget": (
        Claim("After one Hiccup, goodput is back to what it was within ten seconds of the hiccup's end.",
              _WORLD, _budget_recovers),
    ),
    "no-semaphore": (
        Claim("Past its capacity of 8 calls the downstream gets slower with every extra call, so 32 "
              "workers hammering it complete under 60 % of the 50 items a second that arrive.",
              ("rate", "workers", "limit", "capacity", "contention", "service_time"), _no_semaphore_collapses),
        Claim("Set the limit to 8 and it completes at least half as much again, with p99 latency at "
              "most half as long: a semaphore keeps the dependency in its fast region.",
              ("rate", "workers", "limit", "capacity", "contention", "service_time"),
              _no_semaphore_limit_helps),
    ),
    "unbounded-oom": (
        Claim("Memory climbs until the service crashes out of memory within 40 seconds.",
              ("rate", "queue", "policy", "workers", "limit", "service_time", "memory"), _oom_crashes),
        Claim("A queue limit alone does not stop the crash: requests blocked at a full queue still "
              "hold memory (try queue=50).",
              ("rate", "policy", "workers", "limit", "service_time", "memory", "producer"),
              _oom_bound_alone_still_crashes),
        Claim("Bound the queue and reject when full, and it never crashes: the excess is shed at "
              "the door instead of held (try queue=50 with policy=reject).",
              ("rate", "workers", "limit", "service_time", "memory"), _oom_shedding_stops_the_crash),
    ),
}


def claims_for(name: str) -> tuple[Claim, ...]:
    return CLAIMS.get(name, ())


def claims_holding(name: str, overrides: dict) -> list[str]:
    """The sentences of ``name``'s claims that a link changing ``overrides`` leaves standing."""
    return [claim.sentence for claim in claims_for(name) if not set(overrides) & set(claim.depends_on)]
