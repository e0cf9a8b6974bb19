"""A preset's lesson as claims: sentences the page may show, each with a check over headless runs.

Every sentence of a preset's notice that states an outcome ("with a limit of 8 goodput doubles")
is a claim here, and ``tests/teach/test_lessons.py`` runs every claim of every preset: a claim that no
longer holds fails CI. A claim also names the link keys it depends on, so a page whose link
changes one of them knows the sentence may no longer be true.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from playground.model.scenario import FIELDS, Scenario
from playground.sim.engine import Engine


@dataclass(frozen=True)
class Run:
    """A headless run's summary, its goodput per 10 s, its metrics windows and its trace."""

    summary: dict
    goodput: tuple[float, ...]  # items a second in each 10-s span from t = 0
    windows: tuple = ()  # every 0.5-s window, as Window.to_json()
    trace: tuple = ()  # (time, kind, a, b) events

    def __getitem__(self, key: str):
        return self.summary[key]

    def spans(self, start: float, end: float) -> list[dict]:
        """The windows that lie within [start, end)."""
        return [w for w in self.windows if start <= w["start"] and w["end"] <= end]


#: The page's Hiccup button: the downstream 5 times slower for 3 s. Claims about a hiccup press
#: it at HICCUP_AT, so what they check is what a visitor who presses it sees.
HICCUP = {"action": "hiccup", "factor": 5, "seconds": 3}
HICCUP_AT = 10.0


@lru_cache(maxsize=64)
def run(link: str, until: float, hiccup: bool = False, trace: bool = False) -> Run:
    """Run ``link`` headless to ``until`` seconds, pressing Hiccup at HICCUP_AT if asked, and
    keeping the trace only if asked (cached: claims share runs)."""
    engine = Engine(Scenario.from_link(link), event_cap=None if trace else 0, keep_windows=10**6)
    if hiccup:
        engine.run(HICCUP_AT)
        engine.apply(HICCUP)
    engine.run(until)
    spans: dict[int, int] = {}
    for window in engine.metrics.windows:
        spans[int(window.start // 10)] = spans.get(int(window.start // 10), 0) + window.outcomes["completed"]
    goodput = tuple(spans.get(i, 0) / 10 for i in range(int(until // 10)))
    windows = tuple(window.to_json() for window in engine.metrics.windows)
    return Run(engine.summary(), goodput, windows, tuple(engine.read_events()))


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
    half = 0.5 * Scenario.from_link(link).rate
    if seen["throughput"] < half and max(seen.goodput[1:]) < half:
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
    if before > 0.95 * Scenario.from_link(link).rate and max(after) < before / 3:
        return None
    return f"goodput per 10 s {seen.goodput}"


def _budget_recovers(link: str) -> str | None:
    seen = run(link, 120, hiccup=True)
    before, after = seen.goodput[0], seen.goodput[2:]
    if before > 0.95 * Scenario.from_link(link).rate and min(after) > 0.9 * before:
        return None
    return f"goodput per 10 s {seen.goodput}"


def _serves_everything_until_the_hiccup(link: str) -> str | None:
    seen = run(link, 120)
    steady = min(seen.goodput) > 0.95 * Scenario.from_link(link).rate
    return _ok(steady and _losses(seen) <= seen["arrived"] / 1000,
               f"goodput per 10 s {seen.goodput} with no hiccup, {_losses(seen)} of {seen['arrived']} lost")


def _ok(holds: bool, seen) -> str | None:
    return None if holds else str(seen)


def _losses(summary: dict) -> int:
    return sum(summary[k] for k in ("rejected", "dropped", "put_timeouts", "stale", "timeouts", "throttled", "lost"))


# The handbook --------------------------------------------------------------------------------


def _handbook_half_a_second(link):
    seen = run(link, 5, trace=True)
    last = max(event[0] for event in seen.trace)  # the run is over; the clock ran on to 5 s
    return _ok(seen["finished"] and 0.4 <= last <= 0.5 and seen["completed"] == 6, f"last event at {last} s")


def _handbook_producer_waits(link):
    seen = run(link, 5, trace=True)
    produced = {e[2]: e[0] for e in seen.trace if e[1] == "produce"}
    enqueued = {e[2]: e[0] for e in seen.trace if e[1] == "enqueued"}
    waited = [item for item in produced if enqueued.get(item, 0) > produced[item]]
    return _ok(bool(waited), f"no put waited: {produced} / {enqueued}")


def _handbook_third_worker_waits_at_the_semaphore(link):
    seen = run(link, 5)
    permit = max(w["parts"]["permit"]["p99"] or 0 for w in seen.windows) if seen.windows else 0
    return _ok(permit > 0, f"longest wait for a permit {permit}")


def _as_printed_fails_at_once(link):
    seen = run(link, 5, trace=True)
    said = [(t, kind) for t, kind, _a, _b in seen.trace]
    failed = [a for _t, kind, a, _b in seen.trace if kind == "failed"]
    workers = Scenario.from_link(link).workers
    expected = [(0.0, "produce")] + [(0.0, "shutdown")] * workers + [(0.0, "failed")]
    return _ok(said == expected and seen["completed"] == 0 and seen["finished"]
               and failed and failed[0].startswith("ExceptionGroup") and failed[0].endswith("QueueShutDown"),
               f"events {said}, completed {seen['completed']}, raised {failed}")


def _as_printed_fix_finishes(link):
    fixed = run(changed(link, join="after-producers"), 5, trace=True)
    items = Scenario.from_link(link).items
    return _ok(fixed["finished"] and fixed["completed"] == items and fixed["task_errors"] == 0,
               f"with the fix: completed {fixed['completed']} of {items}, errors {fixed['task_errors']}")


# Webhook ingestion ------------------------------------------------------------------------------


def _webhook_fills_then_rejects(link):
    seen = run(link, 60)
    limit = Scenario.from_link(link).queue
    full_by = next((w["end"] for w in seen.windows if w["queue"] >= 0.9 * limit), None)
    later = seen.spans(10, 60)
    rejecting = sum(1 for w in later if w["outcomes"]["rejected"] > 0) / len(later)
    queues = sorted(w["queue"] for w in later)
    # Near its limit: half the time within 15 % of it, nine tenths of the time within 40 %
    # (a Poisson lull drains it for a moment now and then); rejecting in four windows of five.
    holds = (full_by is not None and full_by <= 5 and rejecting >= 0.8
             and queues[len(queues) // 2] >= 0.85 * limit and queues[len(queues) // 10] >= 0.6 * limit)
    return _ok(holds, f"full by {full_by} s; queue from 10 s: {[w['queue'] for w in later][:12]}")


def _webhook_latency_bounded(link):
    seen = run(link, 120)
    # A typical window's p99 (one window's worst item is one unlucky call longer).
    early = statistics.median(w["latency"]["p99"] for w in seen.spans(10, 30))
    late = statistics.median(w["latency"]["p99"] for w in seen.spans(100, 120))
    return _ok(seen["latency_p99"] < 2.0 and late <= 1.15 * early,
               f"p99 {seen['latency_p99']:.2f} s; median window p99 10-30 s {early:.2f}, 100-120 s {late:.2f}")


# Background jobs -----------------------------------------------------------------------------------


def _jobs_queue_fills_and_producers_slow(link):
    seen = run(link, 60)
    limit = Scenario.from_link(link).queue
    full_by = next((w["end"] for w in seen.windows if w["queue"] >= limit), None)
    later = seen.spans(10, 60)
    arrivals = sum(w["arrived"] for w in later)
    served = sum(w["outcomes"]["completed"] for w in later)
    return _ok(full_by is not None and full_by <= 5 and abs(arrivals - served) <= 0.05 * served,
               f"full by {full_by} s; from 10 s {arrivals} arrived, {served} served")


def _jobs_nothing_lost(link):
    seen = run(link, 120)
    s = Scenario.from_link(link)
    bound = s.queue + s.workers + s.producers
    return _ok(_losses(seen.summary) == 0 and seen["peak_in_system"] <= bound,
               f"losses {_losses(seen.summary)}, peak in system {seen['peak_in_system']} (bound {bound})")


# Bursty pipeline -----------------------------------------------------------------------------------


def _bursts_drain_before_the_next(link):
    seen = run(link, 60)
    s = Scenario.from_link(link)
    # A window that ends as a burst lands closes before the burst arrives: its queue is what
    # the previous burst left behind.
    before_next = [w["queue"] for w in seen.windows
                   if w["end"] > s.period + 0.01 and abs(w["end"] / s.period - round(w["end"] / s.period)) < 1e-6]
    left = max(before_next)
    held = max(w["memory_peak"] for w in seen.windows)
    return _ok(bool(before_next) and left < 0.1 * s.burst and held >= s.burst and seen["rejected"] == 0,
               f"most left in the queue as the next burst lands: {left} (of {len(before_next)} bursts); "
               f"most held at once {held}; rejected {seen['rejected']}")


def _bursts_need_the_room(link):
    s = Scenario.from_link(link)
    seen = run(changed(link, queue=s.burst // 2), 60)
    return _ok(seen["rejected"] > 0, f"{seen['rejected']} rejected with queue={s.burst // 2}")


# Stale work -----------------------------------------------------------------------------------------


def _stale_climbs_latency_flat(link):
    seen = run(link, 120)
    late = [w["latency"]["p99"] for w in seen.spans(60, 120) if w["latency"]["p99"] is not None]
    early = [w["latency"]["p99"] for w in seen.spans(10, 60) if w["latency"]["p99"] is not None]
    # A typical window's p99 is max_age plus about one call, and it does not grow with time as
    # the queue's wait would. (A single window's worst item is one unlucky call longer.)
    typical_late, typical_early = statistics.median(late), statistics.median(early)
    return _ok(seen["stale"] > 0 and typical_late < 2.6 and typical_late <= 1.05 * typical_early,
               f"stale {seen['stale']}, median window p99 10-60 s {typical_early:.2f} s, "
               f"60-120 s {typical_late:.2f} s")


def _stale_off_latency_grows(link):
    seen = run(changed(link, max_age=0), 120)
    early = seen.spans(10, 20)
    late = seen.spans(110, 120)
    mid = lambda ws: sorted(w["latency"]["p50"] for w in ws)[len(ws) // 2]  # noqa: E731
    return _ok(mid(late) > 2 * mid(early), f"p50 at 10-20 s {mid(early):.2f} s, at 110-120 s {mid(late):.2f} s")


# API fan-out ---------------------------------------------------------------------------------------


def _fan_out_waits_at_the_semaphore(link):
    seen = run(link, 60)
    permit = sorted(w["parts"]["permit"]["p95"] or 0 for w in seen.spans(10, 60))
    most = max(w["in_flight"] for w in seen.windows)
    s = Scenario.from_link(link)
    return _ok(permit[len(permit) // 2] > 0 and most <= s.limit,
               f"median window's permit p95 {permit[len(permit) // 2]}; most in flight {most}")


def _fan_out_more_permits_slow_calls(link):
    four, eight = run(link, 60), run(changed(link, limit=8), 60)
    def service(seen):
        values = sorted(w["parts"]["service"]["p50"] for w in seen.spans(10, 60))
        return values[len(values) // 2]
    # At least 5 % slower at every seed from 1 to 25 (12 % at seed 19, the least).
    return _ok(service(eight) > 1.05 * service(four),
               f"median call {service(four):.3f} s with limit 4, {service(eight):.3f} s with limit 8")


# Rate-limited fan-out ---------------------------------------------------------------------------------


def _fan_out_sized_right(link):
    seen = run(link, 120)
    # "Almost": a call that happens to be short lets the next start sooner, so a burst can
    # outrun the bucket now and then (0 of 4,830 at seed 1, 275 of 4,845, 5.7 %, at seed 11).
    return _ok(seen["throttled"] < 0.10 * seen["arrived"] and seen["completed"] >= 0.9 * seen["arrived"],
               f"{seen['throttled']} throttled, {seen['completed']} of {seen['arrived']} completed")


def _fan_out_unbounded_is_throttled(link):
    seen = run(changed(link, limit=0), 120)
    return _ok(seen["throttled"] > 0.2 * seen["arrived"], f"{seen['throttled']} of {seen['arrived']} throttled")


# Comparisons: A and B on the same arrivals ------------------------------------------------------------


def _sides(link: str) -> tuple[str, str]:
    """A comparison link's two services, each as a one-service link (for run())."""
    from playground.model.compare import (
        Comparison,  # compare imports presets; lessons is imported by the app
    )

    comparison = Comparison.from_link(link)
    return comparison.a.alone_link(), comparison.b.alone_link()


def _completed_by(seen: Run, t: float) -> int:
    return sum(w["outcomes"]["completed"] for w in seen.windows if w["end"] <= t + 1e-9)


def _a_falls_behind_within_ten_seconds(link):
    a, b = (run(side, 60) for side in _sides(link))
    done_a, done_b = _completed_by(a, 10), _completed_by(b, 10)
    # Under nine tenths at every seed from 1 to 25 (0.83 at seed 9, the most).
    return _ok(done_a < 0.9 * done_b, f"completed by 10 s: A {done_a}, B {done_b}")


def _a_without_a_semaphore_collapses(link):
    return _no_semaphore_collapses(_sides(link)[0])


def _b_with_a_semaphore_does_better(link):
    a, b = (run(side, 60) for side in _sides(link))
    return _ok(_ratio(b["completed"], a["completed"]) >= 1.5 and b["latency_p99"] <= 0.5 * a["latency_p99"],
               f"B completed {b['completed']} (p99 {b['latency_p99']:.2f} s), A {a['completed']} "
               f"(p99 {a['latency_p99']:.2f} s)")


def _a_unbounded_crashes(link):
    return _oom_crashes(_sides(link)[0])


def _b_bounded_never_crashes(link):
    seen = run(_sides(link)[1], 300)
    return _ok(seen["crashes"] == 0 and seen["rejected"] > 0 and seen["latency_p99"] < 2,
               f"B: {seen['crashes']} crashes, {seen['rejected']} rejected, p99 {seen['latency_p99']:.2f} s")


def _both_lose_a_third(link):
    a, b = (run(side, 120) for side in _sides(link))
    lost_a, lost_b = _losses(a) / a["arrived"], _losses(b) / b["arrived"]
    return _ok(all(0.25 <= lost <= 0.40 for lost in (lost_a, lost_b)),
               f"lost: A {lost_a:.1%}, B {lost_b:.1%}")


def _drop_oldest_serves_fresher(link):
    a, b = (run(side, 120) for side in _sides(link))
    return _ok(b["latency_p50"] < 0.85 * a["latency_p50"],
               f"p50: A {a['latency_p50']:.3f} s, B {b['latency_p50']:.3f} s")


def _a_stale_latency_flat(link):
    return _stale_climbs_latency_flat(_sides(link)[0])


def _b_keeping_everything_grows(link):
    a, b = (run(side, 120) for side in _sides(link))
    late_a = statistics.median(w["latency"]["p50"] for w in a.spans(110, 120))
    growing = _stale_off_latency_grows(_sides(link)[0])  # B is A with max_age=0
    late_b = statistics.median(w["latency"]["p50"] for w in b.spans(110, 120))
    return _ok(growing is None and late_b > 2 * late_a,
               f"p50 at 110-120 s: A {late_a:.2f} s, B {late_b:.2f} s; {growing or 'B grows'}")


def _a_storm_stays_down(link):
    return _storm_stays_down(_sides(link)[0])


def _b_budget_recovers(link):
    return _budget_recovers(_sides(link)[1])


def _fifo_p99_past_25_s_and_growing(link):
    seen = run(link, 60)
    early = max(w["latency"]["p99"] or 0 for w in seen.spans(20, 30))
    late = max(w["latency"]["p99"] or 0 for w in seen.spans(50, 60))
    return _ok(seen["latency_p99"] > 25 and late > 1.5 * early,
               f"p99 {seen['latency_p99']:.2f} s; window p99 at 20-30 s {early:.2f} s, at 50-60 s {late:.2f} s")


def _codel_p99_under_a_second(link):
    kept, codel = run(changed(link, codel="off"), 60), run(changed(link, codel="on"), 60)
    return _ok(codel["latency_p99"] < 1 and codel["completed"] >= 0.9 * kept["completed"],
               f"CoDel p99 {codel['latency_p99']:.2f} s, completed {codel['completed']} against "
               f"{kept['completed']} without it")


def _a_fifo_p99_past_25_s(link):
    seen = run(_sides(link)[0], 60)
    return _ok(seen["latency_p99"] > 25, f"A: p99 {seen['latency_p99']:.2f} s")


def _b_codel_p99_under_a_second(link):
    a, b = (run(side, 60) for side in _sides(link))
    return _ok(b["latency_p99"] < 1 and b["completed"] >= 0.9 * a["completed"],
               f"B: p99 {b['latency_p99']:.2f} s, completed {b['completed']} against A's {a['completed']}")


def _b_vegas_finds_the_knee(link):
    a_link, b_link = _sides(link)
    a = run(a_link, 60)
    engine = Engine(Scenario.from_link(b_link), event_cap=0)
    engine.run(60)
    b, limit = engine.summary(), engine.service.semaphore.limit
    return _ok(b["completed"] >= 2 * a["completed"] and 4 <= limit <= 12,
               f"B completed {b['completed']} against A's {a['completed']}; its limit at 60 s: {limit}")


def _both(*keys: str) -> tuple[str, ...]:
    """Keys a comparison's claim depends on, whether the link changes them for both or B alone."""
    return keys + tuple(f"b.{key}" for key in keys)


#: Preset name -> its claims.
_WORLD = ("rate", "arrivals", "workers", "limit", "capacity", "contention", "service_time", "timeout",
          "abandon", "retries", "jitter", "backoff", "backoff_cap", "retry_budget", "queue", "service_dist")

_ALL = tuple(key for key in FIELDS if key != "seed")  # any change of the service may void it


CLAIMS: dict[str, tuple[Claim, ...]] = {
    "rate-limited-fan-out": (
        Claim("With the semaphore at 4 almost nothing is throttled (under a tenth): each burst waits its "
              "turn in the queue.",
              _ALL, _fan_out_sized_right),
        Claim("Set the limit to 0 and over a fifth of the items come back throttled.",
              ("arrivals", "burst", "period", "rate", "workers", "rate_limit", "rate_burst", "service_time",
               "retries", "timeout"), _fan_out_unbounded_is_throttled),
    ),
    "handbook": (
        Claim("Everything finishes in about half a second.", _ALL, _handbook_half_a_second),
        Claim("The producer waits as soon as the queue holds two items.", _ALL, _handbook_producer_waits),
        Claim("The third worker waits at the semaphore while two others call the downstream.", _ALL,
              _handbook_third_worker_waits_at_the_semaphore),
    ),
    "handbook-as-printed": (
        Claim("join() returns at once and shutdown() runs before the producer takes a step: its first "
              "put raises QueueShutDown, the workers stop, the TaskGroup raises an ExceptionGroup and "
              "not one item is handled.", _ALL, _as_printed_fails_at_once),
        Claim("Await the producer before joining the queue and every item is handled.", ("items",),
              _as_printed_fix_finishes),
    ),
    "webhook-ingestion": (
        Claim("The queue fills in the first seconds; then new requests are rejected and the queue "
              "stays near its limit.", _ALL, _webhook_fills_then_rejects),
        Claim("Latency of accepted requests stays bounded.", ("rate", "queue", "policy", "workers", "limit",
              "service_time", "capacity", "contention"), _webhook_latency_bounded),
    ),
    "background-jobs": (
        Claim("The queue fills to its limit, then producing slows to the workers' pace.", _ALL,
              _jobs_queue_fills_and_producers_slow),
        Claim("Nothing is lost and nothing piles up beyond the queue.", ("policy", "queue", "producer", "max_age",
              "timeout", "memory", "rate_limit", "items", "abandon"), _jobs_nothing_lost),
    ),
    "bursty-pipeline": (
        Claim("The queue jumps with each burst and is drained before the next one lands.",
              _ALL, _bursts_drain_before_the_next),
        Claim("Shrink the queue below the burst and items are rejected.", ("burst", "policy", "arrivals"),
              _bursts_need_the_room),
    ),
    "stale-work": (
        Claim("The stale count climbs while served items' latency stays near two seconds.", _ALL,
              _stale_climbs_latency_flat),
        Claim("Set max_age to 0 and the waiting time grows without bound.", ("rate", "workers", "limit",
              "service_time", "queue", "policy", "capacity", "contention"), _stale_off_latency_grows),
    ),
    "api-fan-out": (
        Claim("The other workers wait at the semaphore while the API answers at full speed.", _ALL,
              _fan_out_waits_at_the_semaphore),
        Claim("Raise the limit above 4 and the calls slow down.", ("capacity", "contention", "workers",
              "service_time", "rate"), _fan_out_more_permits_slow_calls),
    ),
    "retry-storm": (
        Claim("Retries cover the few calls that time out: it serves more than 999 items in 1,000.",
              _WORLD, _serves_everything_until_the_hiccup),
        Claim("After one Hiccup, goodput stays under a third of what it was for minutes after the "
              "hiccup is over.", _WORLD, _storm_stays_down),
    ),
    "retry-budget": (
        Claim("After one Hiccup, goodput is back to what it was within ten seconds of the hiccup's end.",
              _WORLD, _budget_recovers),
    ),
    "no-semaphore": (
        Claim("Past its capacity of 8 calls the downstream gets slower with every extra call, so 32 "
              "workers hammering it complete under half of the 65 items a second that arrive.",
              ("rate", "workers", "limit", "capacity", "contention", "service_time"), _no_semaphore_collapses),
        Claim("Set the limit to 8 and it completes at least half as much again, with p99 latency at "
              "most half as long: a semaphore keeps the dependency in its fast region.",
              ("rate", "workers", "limit", "capacity", "contention", "service_time"),
              _no_semaphore_limit_helps),
    ),
    "semaphore-vs-none": (
        Claim("Within ten seconds A has completed less than nine tenths of what B has.", _both("rate", "workers", "limit", "capacity", "contention",
              "service_time"), _a_falls_behind_within_ten_seconds),
        Claim("A completes under half of the 65 items a second that arrive.",
              _both("rate", "workers", "limit", "capacity", "contention", "service_time"),
              _a_without_a_semaphore_collapses),
        Claim("B completes at least half as much again as A, with p99 latency at most half as long.",
              _both("rate", "workers", "limit", "capacity", "contention", "service_time"),
              _b_with_a_semaphore_does_better),
    ),
    "bounded-vs-unbounded": (
        Claim("A's memory climbs until it crashes out of memory within 40 seconds.",
              _both("rate", "queue", "policy", "workers", "limit", "service_time", "memory"), _a_unbounded_crashes),
        Claim("B never crashes, and its p99 latency stays under two seconds.",
              _both("rate", "queue", "policy", "workers", "limit", "service_time", "memory"),
              _b_bounded_never_crashes),
    ),
    "reject-vs-drop-oldest": (
        Claim("Both lose about a third of the requests.",
              _both("rate", "queue", "policy", "workers", "limit", "service_time", "capacity", "contention"),
              _both_lose_a_third),
        Claim("B's served requests waited less, so its median latency is lower than A's.",
              _both("rate", "queue", "policy", "workers", "limit", "service_time", "capacity", "contention"),
              _drop_oldest_serves_fresher),
    ),
    "drop-stale-vs-keep": (
        Claim("A's stale count climbs while served items' latency stays near two seconds.",
              _both(*_ALL), _a_stale_latency_flat),
        Claim("B's median latency grows past twice A's and keeps growing.",
              _both("rate", "workers", "limit", "service_time", "queue", "policy", "capacity", "contention",
                    "max_age"), _b_keeping_everything_grows),
    ),
    "retry-budget-vs-none": (
        Claim("After one Hiccup, A's goodput stays under a third of what it was for minutes.",
              _both(*_WORLD), _a_storm_stays_down),
        Claim("B is back to what it was within ten seconds of the hiccup's end.", _both(*_WORLD),
              _b_budget_recovers),
    ),
    "standing-queue": (
        Claim("A minute in, the p99 latency is past 25 seconds, and it keeps growing.",
              ("rate", "workers", "limit", "service_time", "queue", "policy", "max_age", "discipline", "codel",
               "capacity", "contention", "timeout", "memory"), _fifo_p99_past_25_s_and_growing),
        Claim("Turn CoDel on and the p99 latency stays under a second while it completes at least nine "
              "tenths as much: it drops what has waited too long.",
              ("rate", "workers", "limit", "service_time", "queue", "policy", "max_age", "discipline",
               "codel_target", "codel_interval", "capacity", "contention", "timeout", "memory"),
              _codel_p99_under_a_second),
    ),
    "fifo-vs-codel": (
        Claim("A's p99 latency is past 25 seconds a minute in.",
              _both("rate", "workers", "limit", "service_time", "queue", "policy", "max_age", "discipline", "codel",
                    "capacity", "contention", "timeout", "memory"), _a_fifo_p99_past_25_s),
        Claim("B's p99 latency stays under a second, and it completes at least nine tenths of what A completes.",
              _both("rate", "workers", "limit", "service_time", "queue", "policy", "max_age", "discipline", "codel",
                    "codel_target", "codel_interval", "capacity", "contention", "timeout", "memory"),
              _b_codel_p99_under_a_second),
    ),
    "vegas-vs-none": (
        Claim("A completes under half of the 65 items a second that arrive.",
              _both("rate", "workers", "limit", "capacity", "contention", "service_time"),
              _a_without_a_semaphore_collapses),
        Claim("B completes at least twice what A completes, and its limit ends the minute between 4 and 12.",
              _both("rate", "workers", "limit", "limiter", "limit_min", "limit_max", "vegas_alpha", "vegas_beta",
                    "capacity", "contention", "service_time", "timeout"),
              _b_vegas_finds_the_knee),
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
