"""Theory beside the data: what queueing theory says about a running scenario, next to what the
run measures, for the page's "Theory beside the data" panel.

Always: utilisation ρ = λ·S/c, and Little's law over the last 30 s of sim time (L, the mean number
in the system, against λ·W, the rate items leave times their mean time in it). With an unbounded
queue and ρ ≥ 1: how fast the queue grows, and when memory runs out. Where the scenario is
Markovian (theory.for_scenario), the M/M/c or M/M/c/K predictions beside the same measures over
the last 30 s; elsewhere, a sentence on why no formula applies.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

from playground.model import theory
from playground.model.scenario import Scenario
from playground.sim.engine import Engine, client_retrying, retrying

#: Sim seconds Little's law and the measures beside the theory are taken over.
SPAN = 30.0


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
    if s.limit and s.limit < s.workers:
        reasons.append("the semaphore is smaller than the worker pool (workers hold items while "
                       "they wait for a permit)")
    if s.capacity:
        reasons.append("the downstream slows past its capacity")
    if s.queue and s.policy != "reject":
        reasons.append(f"a full queue makes producers {'wait' if s.policy != 'drop-oldest' else 'drop work'}"
                       " (only reject makes the M/M/c/K loss system)")
    if s.timeout or s.max_age or s.rate_limit or retrying(s) or client_retrying(s):
        reasons.append("timeouts, stale drops, rate limits or retries end or repeat work")
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

    def block(self, engine: Engine) -> dict:
        scenario = engine.scenario
        metrics = engine.metrics
        now = engine.now
        area = metrics.area(now)
        outcomes = metrics.outcomes
        sample = (now, area, metrics.sojourn_sum, metrics.left, outcomes["completed"],
                  metrics.latency_sum, metrics.arrived, outcomes["rejected"])
        samples = self.samples
        if samples and (now < samples[-1][0] or samples[-1][3] > metrics.left):
            samples.clear()  # a new run (reset): its numbers start again
        if not samples or now > samples[-1][0]:
            samples.append(sample)
        while len(samples) > 2 and samples[1][0] <= now - SPAN:
            samples.popleft()
        first = samples[0]
        span = now - first[0]
        c = servers(scenario)
        out: dict = {"servers": c, "span": round(span, 2)}
        if scenario.producer == "open":
            out["rho"] = round(scenario.rate * scenario.service_time / c, 4)
        if span > 0:
            left = sample[3] - first[3]
            completed = sample[4] - first[4]
            arrived = sample[6] - first[6]
            out["little"] = {
                "L": round((sample[1] - first[1]) / span, 3),
                "lambda": round(left / span, 3),
                "W": round((sample[2] - first[2]) / left, 4) if left else None,
            }
            out["measured"] = {
                "throughput": round(completed / span, 3),
                "mean_in_system": out["little"]["L"],
                "mean_latency": round((sample[5] - first[5]) / completed, 4) if completed else None,
                "blocking": round((sample[7] - first[7]) / arrived, 4) if arrived else None,
            }
        if scenario.producer == "open" and not scenario.queue and out["rho"] >= 1:
            growth = scenario.rate - c / scenario.service_time
            out["growth"] = round(growth, 3)
            if scenario.memory and growth > 0:
                out["memory_in"] = round(max(0, scenario.memory - metrics.in_system) / growth, 1)
        out["model"] = model(scenario)
        out["why_not"] = why_no_formula(scenario)
        return out
