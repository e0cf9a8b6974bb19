"""Theory beside the data: what queueing theory says about a running scenario, next to what the
run measures, for the page's "Theory beside the data" panel.

Always: utilisation ρ = λ·S/c, and Little's law over the last 30 s of sim time (L, the mean number
in the system, against λ·W, the rate items leave times their mean time in it). With an unbounded
queue and ρ ≥ 1: how fast the queue grows, and when memory runs out. Where the scenario is
Markovian (theory.for_scenario), the M/M/c or M/M/c/K predictions beside the same measures over
the last 30 s; elsewhere, a sentence on why no formula applies.
"""

from __future__ import annotations

import bisect

from collections import deque
from functools import lru_cache
from typing import NamedTuple

from playground.model import theory
from playground.model.scenario import Scenario
from playground.sim.engine import Engine, client_retrying, retrying, slowdown

#: Sim seconds Little's law and the measures beside the theory are taken over.
SPAN = 30.0

#: How the theory panel names each adaptive limiter.
LIMITER_NAMES = {"aimd": "AIMD", "vegas": "Vegas", "gradient2": "Gradient2"}


def servers(scenario: Scenario) -> int:
    """Calls that can run at once at full speed: the workers, or the semaphore or the
    downstream's capacity if either is smaller."""
    return min(scenario.workers, scenario.limit or scenario.workers, scenario.capacity or scenario.workers)


@lru_cache(maxsize=512)
def why_no_formula(scenario: Scenario) -> str | None:
    """Why no closed-form model fits the scenario, as a sentence; None if M/M/c(/K) does."""
    s = scenario
    reasons = []
    if s.producer == "closed":
        reasons.append("closed producers wait for their puts, so arrivals depend on the queue")
    elif s.arrivals != "poisson":
        reasons.append(f"arrivals are {s.arrivals}, not Poisson")
    if s.service_dist != "exponential":
        reasons.append(f"call times are {s.service_dist}, not exponential")
    if s.limiter != "fixed":
        reasons.append(f"an {LIMITER_NAMES[s.limiter]} limiter moves the number of calls at once")
    elif s.limit and s.limit < s.workers:
        reasons.append("the semaphore is smaller than the worker pool (workers hold items while "
                       "they wait for a permit)")
    if s.capacity:
        reasons.append("the downstream slows past its capacity")
    if s.queue and s.policy != "reject":
        reasons.append(f"a full queue makes producers {'wait' if s.policy != 'drop-oldest' else 'drop work'}"
                       " (only reject makes the M/M/c/K loss system)")
    if s.timeout or s.max_age or s.rate_limit or retrying(s) or client_retrying(s):
        reasons.append("timeouts, stale drops, rate limits or retries end or repeat work")
    if s.codel == "on":
        reasons.append("CoDel drops work that has waited too long")
    if s.memory:
        reasons.append("a memory limit crashes the service")
    if not reasons:
        return None
    return "Queueing theory has no exact formula here: " + "; ".join(reasons) + "."


@lru_cache(maxsize=512)
def model(scenario: Scenario) -> dict | None:
    """The M/M/c(/K) prediction for a Markovian scenario (JSON-safe), or None."""
    if why_no_formula(scenario) is not None:
        return None
    stats = theory.for_scenario(scenario)
    if stats is None:
        return None
    name = f"M/M/{stats.servers}" + (f"/{stats.capacity}" if stats.capacity is not None else "")
    return {"name": name, **{key: value for key, value in stats.to_json().items()
                             if key in ("throughput", "mean_in_system", "mean_in_queue", "mean_latency",
                                        "blocking", "utilization", "stable")}}


class Explainer:
    """One session's theory block, with the samples Little's law reads over the last SPAN s."""

    def __init__(self) -> None:
        self.samples: deque = deque()

    def observe(self, engine: Engine) -> Sample:
        """Take the run's totals now into the span's samples (every frame: the spans the block
        reads start at a sample, so samples as dense as frames keep them near 30 s and 5 s)."""
        metrics = engine.metrics
        now = engine.now
        outcomes = metrics.outcomes
        sample = Sample(now, metrics.area(now), metrics.sojourn_sum, metrics.left, outcomes["completed"],
                        metrics.latency_sum, metrics.arrived, outcomes["rejected"],
                        engine.busy_call_seconds(), engine.useful_call_seconds, engine.attempts,
                        outcomes["timeout"], metrics.in_system)
        samples = self.samples
        if samples and (now < samples[-1].t or samples[-1].left > metrics.left):
            samples.clear()  # a new run (reset): its numbers start again
        if not samples or now > samples[-1].t:
            samples.append(sample)
        # The span starts at the sample nearest SPAN ago (so it reads 30 s, not 31, at high speed).
        start = now - SPAN
        while len(samples) > 2 and (samples[1].t <= start or abs(samples[1].t - start) < abs(samples[0].t - start)):
            samples.popleft()
        return sample

    def block(self, engine: Engine) -> dict:
        """The panel's figures and sentences now (after taking this instant's sample)."""
        scenario = engine.scenario
        metrics = engine.metrics
        now = engine.now
        sample = self.observe(engine)
        samples = self.samples
        first = samples[0]
        span = now - first.t
        c = servers(scenario)
        out: dict = {"servers": c, "span": round(span, 2)}
        if scenario.producer == "open":
            out["rho"] = round(scenario.rate * scenario.service_time / c, 4)
        if span > 0:
            left = sample.left - first.left
            completed = sample.completed - first.completed
            arrived = sample.arrived - first.arrived
            out["little"] = {
                "L": round((sample.area - first.area) / span, 3),
                "lambda": round(left / span, 3),
                "W": round((sample.sojourn - first.sojourn) / left, 4) if left else None,
            }
            out["measured"] = {
                "throughput": round(completed / span, 3),
                "arrivals": round(arrived / span, 3),
                "mean_in_system": out["little"]["L"],
                "mean_latency": round((sample.latency - first.latency) / completed, 4) if completed else None,
                "blocking": round((sample.rejected - first.rejected) / arrived, 4) if arrived else None,
                "arrived": arrived,
                "growth": round((sample.in_system - first.in_system) / span, 3),
            }
            recent = _nearest(samples, now - RECENT)
            if now - recent.t > 0:
                out["downstream"] = downstream(engine, sample, recent, now - recent.t, c, out.get("rho"))
        # (Nothing sheds what waits: CoDel and max_age drop from the queue, so it need not grow.)
        if (scenario.producer == "open" and not scenario.queue and out["rho"] >= 1
                and scenario.codel != "on" and not scenario.max_age):
            growth = scenario.rate - c / scenario.service_time
            out["growth"] = round(growth, 3)
            if scenario.memory and growth > 0:
                out["memory_in"] = round(max(0, scenario.memory - metrics.in_system) / growth, 1)
        mechanisms = past_the_handbook(engine)
        if mechanisms:
            out["mechanisms"] = mechanisms
        out["model"] = model(scenario)
        out["why_not"] = why_no_formula(scenario)
        out["lines"] = sentences(out, scenario)
        return out


def past_the_handbook(engine: Engine) -> dict:
    """What the mechanisms past the handbook are doing now: an adaptive limit, CoDel's state, the
    queue's order (issue 24). Empty when the scenario uses none of them, or the service is down."""
    scenario = engine.scenario
    if engine.restart_at is not None:
        return {}
    service = engine.service
    out: dict = {}
    if service.moving_limit is not None:
        out["limit"] = {"now": service.moving_limit, "initial": scenario.limit, "in_flight": service.in_flight}
        no_load = getattr(service.semaphore, "no_load", None)  # Vegas: the fastest round trip it has seen
        long_rtt = getattr(service.semaphore, "long_rtt", None)  # Gradient2: the long-run average
        if no_load:
            out["limit"]["no_load"] = round(no_load, 4)
        if long_rtt:
            out["limit"]["long_rtt"] = round(long_rtt, 4)
    codel = service.codel
    if codel is not None:
        out["codel"] = {"dropping": codel.dropping, "count": codel.count if codel.dropping else 0,
                        "next_drop_in": round(max(0.0, codel.drop_next - engine.now), 3) if codel.dropping else None,
                        "above_since": (round(codel.above_since, 3)
                                        if codel.first_above and not codel.dropping else None),
                        "may_drop_at": (round(codel.first_above, 3)
                                        if codel.first_above and not codel.dropping else None)}
    queue = service.queue
    if queue.order != "fifo":
        out["order"] = {"discipline": queue.order, "standing": round(queue.standing(), 3),
                        "newest_first": queue.serves_newest()}  # what the queue's next get does
    return out


def _nearest(samples, t: float) -> "Sample":
    """The sample nearest ``t`` (the earlier on a tie): a bisection, since samples are in time
    order (a scan of the ~600 a 30 s span holds was most of a frame's cost)."""
    i = bisect.bisect_left(samples, t, key=_time)
    if i == len(samples):
        return samples[-1]
    if i > 0 and abs(samples[i - 1].t - t) <= abs(samples[i].t - t):
        return samples[i - 1]
    return samples[i]


def _time(sample) -> float:
    return sample.t


class Sample(NamedTuple):
    """The run's running totals at one instant (differences of two give a span's figures)."""

    t: float
    area: float  # items in the system, integrated over time
    sojourn: float
    left: int
    completed: int
    latency: float
    arrived: int
    rejected: int
    busy: float  # the downstream's call-seconds (calls in flight, integrated)
    useful: float  # the part of them on calls that completed an item
    attempts: int
    timeouts: int
    in_system: int


#: Sim seconds the downstream's pace is read over: what it does now, not half a minute ago.
RECENT = 5.0
#: Below this many seconds of data the span's figures are noise; the panel does not read them.
MIN_SPAN = 2.0
#: Effective and nominal ρ "differ" past this ratio either way.
DIFFER = 1.2
#: The service keeps up when it completes at least this share of what arrives, and its
#: backlog is not growing faster than this share of the arrival rate.
KEEPS_UP = 0.9


def downstream(engine: Engine, sample: Sample, first: Sample, span: float, c: int, rho: float | None) -> dict:
    """What the downstream did over the span: its calls in flight on average, the call time it
    spent per completed item, the share of its work on calls that did not complete one, and
    the utilisation that follows (beside the nominal one)."""
    busy = sample.busy - first.busy
    useful = sample.useful - first.useful
    completed = sample.completed - first.completed
    in_flight = busy / span
    out = {
        "span": round(span, 2),
        "in_flight": round(in_flight, 2),
        "in_flight_now": engine.service.in_flight if engine.restart_at is None else 0,
        "call_time": round(busy / completed, 4) if completed else None,
        "wasted": round(max(0.0, 1 - useful / busy), 3) if busy > 0 else None,
        "attempts_per_item": round((sample.attempts - first.attempts) / completed, 2) if completed else None,
        "timeouts": sample.timeouts - first.timeouts,
        "slowdown": round(engine_slowdown(engine), 2),
        "hiccup": engine.hiccup_factor if engine.hiccup_until > engine.now else None,
        "hiccup_until": round(engine.hiccup_until, 2) if engine.hiccup_until > engine.now else None,
    }
    if rho is not None and busy > 0:
        # λ × (call-seconds per completed item) / (calls that run at once): the nominal
        # formula with the call time the downstream now takes. When more calls are in flight
        # than run at full speed, they share the c: that is λ over the completion rate.
        arriving = engine.scenario.rate
        out["rho"] = round(arriving * span / completed, 3) if in_flight > c and completed else (
            round(arriving * busy / completed / c, 3) if completed else None)
    return out


def engine_slowdown(engine: Engine) -> float:
    """How much slower than nominal a call starting now runs (capacity, contention, a hiccup)."""
    if engine.restart_at is not None:
        return 1.0
    factor = slowdown(engine.scenario, engine.service.in_flight + 1)
    if engine.hiccup_until > engine.now:
        factor *= engine.hiccup_factor
    return factor


# Sentences ----------------------------------------------------------------------------------
# Every sentence the panel shows is made here (the page renders them), so that each is a claim
# a headless run can check (tests/teach/test_explain.py).


def _n(value: float | None, digits: int = 2) -> str:
    """A number as the page writes it: fewer decimals as it grows, thousands separated."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    size = abs(value)
    d = 0 if size >= 100 else 1 if size >= 10 else digits
    return f"{value:,.{d}f}"


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{_n(seconds)} s" if seconds >= 1 else f"{_n(seconds * 1000, 0)} ms"


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _verdict(rho: float, up: bool | None = None) -> str:
    if rho >= 1:
        return "more work arrives than the service can do at this pace"
    if up is False:
        return "on average there is room, but it is falling behind now"
    if rho >= 0.8:
        return "busy: waits grow steeply as ρ nears 1"
    return "the service keeps up on average"


def keeping_up(block: dict) -> bool | None:
    """Whether the span's measurements show the service keeping up with what arrives (None
    with too little data)."""
    seen = block.get("measured")
    if not seen or block["span"] < MIN_SPAN or not seen["arrivals"]:
        return None
    return seen["throughput"] >= KEEPS_UP * seen["arrivals"] and seen["growth"] <= (1 - KEEPS_UP) * seen["arrivals"]


def _why(d: dict, scenario: Scenario, slower: bool) -> str:
    """The one sentence on why the downstream's pace is not the nominal one."""
    reasons = []
    if d["hiccup"]:
        reasons.append(f"a hiccup makes every call ×{_n(d['hiccup'], 1)} slower until {_n(d['hiccup_until'], 1)} s")
    if scenario.capacity and d["in_flight_now"] > scenario.capacity:
        reasons.append(f"{d['in_flight_now']} calls in flight against a capacity of {scenario.capacity} "
                       f"make each new call ×{_n(d['slowdown'], 1)} slower")
    if d["wasted"] is not None and d["wasted"] >= 0.1:
        reasons.append(f"{min(99, round(d['wasted'] * 100)) if d['wasted'] < 1 else 100} % of the downstream's work is on calls that timed out, "
                       "were abandoned or are still running")
    if d["attempts_per_item"] is not None and d["attempts_per_item"] >= 1.2:
        reasons.append(f"each completed item took {_n(d['attempts_per_item'], 1)} attempts (retries)")
    if not reasons:
        reasons.append("calls take longer than the nominal call time" if slower
                       else "calls take less time than the nominal call time, by luck of the draw")
    return "; ".join(reasons)


def sentences(t: dict, s: Scenario) -> list[str]:
    out = []
    d = t.get("downstream") or {}
    up = keeping_up(t)
    seen = t.get("measured") or {}
    if "rho" in t:
        rho = t["rho"]
        effective = d.get("rho")
        nominal = f"Utilisation ρ = λ·S / c = {_n(s.rate)}/s × {_s(s.service_time)} / {t['servers']} = {_n(rho)}"
        differs = (effective is not None and d["span"] >= MIN_SPAN
                   and (effective > rho * DIFFER or effective < rho / DIFFER))
        if differs:
            out.append(f"{nominal} with the nominal call time; but over the last {_span(d['span'])} the downstream "
                       f"spent {_s(d['call_time'])} of calls per completed item, so the effective ρ is "
                       f"{_n(effective)}: {_verdict(effective, up)}. Why: {_why(d, s, effective > rho)}.")
        elif up is False or (effective is None and seen.get("arrived") and t["span"] >= MIN_SPAN):
            measured = (f"it completed {_n(seen['throughput'])}/s of {_n(seen['arrivals'])}/s arriving over the "
                        f"last {_span(t['span'])}")
            out.append(f"{nominal}: {_verdict(rho)}; {measured}." if rho >= 1
                       else f"{nominal}, yet the service is not keeping up: {measured}.")
        else:
            out.append(f"{nominal}: {_verdict(rho)}.")
        if d.get("hiccup") and not differs:
            out.append(f"Now a hiccup makes every call ×{_n(d['hiccup'], 1)} slower until {_n(d['hiccup_until'], 1)} s: "
                       "the figures above are catching up with it.")
        if differs and up is False and effective < 1:
            out.append(f"Measured: {_n(seen['throughput'])}/s completed of {_n(seen['arrivals'])}/s arriving "
                       f"over the last {_span(t['span'])}: the service is not keeping up.")
    else:
        out.append(f"Closed producers: arrivals follow the service ({t['servers']} calls at once at full speed), "
                   "so ρ = λ·S/c has no fixed λ.")
        if d.get("call_time") and d["span"] >= MIN_SPAN and d["call_time"] > s.service_time * DIFFER:
            out.append(f"Over the last {_span(d['span'])} the downstream spent {_s(d['call_time'])} of calls per "
                       f"completed item against a nominal {_s(s.service_time)}. Why: "
                       f"{_why(d, s, slower=True)}.")
    little = t.get("little")
    if little and t["span"] > 0:
        lw = None if little["W"] is None else little["lambda"] * little["W"]
        apart = lw is not None and little["L"] > 0 and abs(little["L"] - lw) > 0.05 * little["L"]
        out.append(f"Little's law over the last {_span(t['span'])}: L = {_n(little['L'])} items in the system on "
                   f"average; λ·W = {_n(little['lambda'])}/s leaving × {_s(little['W'])} each = {_n(lw)}"
                   + (": apart, because the system is not in a steady state (work piles up or drains)."
                      if apart else "."))
    if "growth" in t:
        out.append((f"The unbounded queue grows by about {_n(t['growth'])} items/s"
                    + (f": out of memory in about {_n(t['memory_in'], 0)} s." if "memory_in" in t
                       else " and nothing stops it (no memory limit).")) if t["growth"] > 0
                   else "At ρ = 1 exactly the unbounded queue has no drift, but it wanders without bound.")
    m = t.get("model")
    if m:
        parts = [f"throughput {_n(m['throughput'])}/s (measured {_n(seen.get('throughput'))})",
                 f"mean in system {_n(m['mean_in_system'])} ({_n(seen.get('mean_in_system'))})",
                 f"mean latency {_s(m['mean_latency'])} ({_s(seen.get('mean_latency'))})"]
        if len(m["name"].split("/")) > 3:
            parts.append(f"blocking {_n(m['blocking'] * 100, 1)} % ({_n((seen.get('blocking') or 0) * 100, 1)} %)")
        out.append(f"{m['name']} predicts {', '.join(parts)}. The measured figures are the last "
                   f"{_span(t['span'])}'s ({seen.get('arrived', 0):,} arrivals): a short sample wanders "
                   "around the prediction; the longer the run, the closer."
                   if m["stable"] else f"{m['name']} is unstable here (ρ ≥ 1, no limit): no steady state to predict.")
    elif t.get("why_not"):
        out.append(t["why_not"])
    out += _mechanism_sentences(t, s)
    return out


def _mechanism_sentences(t: dict, s: Scenario) -> list[str]:
    """What the limiter, CoDel and the queue order are doing, each in a sentence."""
    out = []
    now = t.get("mechanisms") or {}
    limit = now.get("limit")
    if limit:
        measured = (t.get("measured") or {}).get("throughput")
        name = LIMITER_NAMES[s.limiter]
        line = (f"The {name} limiter allows {limit['now']} calls at once now (it started at {limit['initial']}; "
                f"{limit['in_flight']} in flight).")
        if measured:
            need = measured * s.service_time
            past = (f"; past the downstream's capacity of {s.capacity} the extra calls slow every call"
                    if s.capacity and limit["now"] > s.capacity else "")
            line += (f" Little's law puts the calls this throughput needs at {_n(measured)}/s × {_s(s.service_time)} "
                     f"(a call at no load) = {_n(need)}.")
            if s.limiter == "aimd":
                line += f" AIMD does not read latency: only failed calls bring its limit down{past}."
        if s.limiter == "vegas" and limit.get("no_load"):
            line += (f" Vegas reads latency: the fastest call it has seen took {_s(limit['no_load'])}; it shrinks "
                     f"the limit when calls are slow enough that more than {s.vegas_beta} × log10(limit) are "
                     f"estimated to queue at the downstream.")
        elif s.limiter == "gradient2" and limit.get("long_rtt"):
            line += (f" Gradient2 reads latency: its long-run average call is {_s(limit['long_rtt'])}; calls slower "
                     f"than {_n(s.gradient_tolerance)} × that shrink the limit.")
        out.append(line)
    codel = now.get("codel")
    if codel:
        if codel["dropping"]:
            due = (f"the next in {_s(codel['next_drop_in'])}" if codel["next_drop_in"]
                   else "the next due with the next item taken")
            out.append(f"CoDel is dropping: its drop count is {codel['count']}, {due} (sooner each drop), "
                       f"until an item has waited less than {_s(s.codel_target)}.")
        elif codel["above_since"] is not None:
            out.append(f"CoDel is watching: the items taken since {_n(codel['above_since'], 1)} s had waited more "
                       f"than {_s(s.codel_target)}; if that lasts until {_n(codel['may_drop_at'], 1)} s it drops.")
        else:
            out.append(f"CoDel is not dropping: the last item taken had waited under {_s(s.codel_target)}, or "
                       "had at most one item behind it (CoDel looks only as workers take items).")
    order = now.get("order")
    if order and order["discipline"] == "adaptive-lifo":
        out.append(f"Adaptive LIFO serves the newest first now: the queue has not been empty for "
                   f"{_s(order['standing'])}, more than {_s(s.codel_interval)}." if order["newest_first"] else
                   f"Adaptive LIFO serves the oldest first now: the queue has stood {_s(order['standing'])}, "
                   f"not more than {_s(s.codel_interval)}.")
    elif order:
        out.append("LIFO: the newest item is served first, always; the oldest wait as long as newer ones keep coming.")
    return out
