"""The scenarios the parity tests run on the engine and on the generated program, and the
engine's side of that comparison (its trace, one line an event)."""

from __future__ import annotations

from playground.model.scenario import Scenario
from playground.sim import trace
from playground.sim.engine import Engine

# (id, link, until): until=None runs a finite scenario to its end.
SCENARIOS = [
    ("handbook", "preset=handbook", None),
    ("block-open-poisson", "rate=60&queue=5&workers=2&limit=2&service_time=0.05", 8),
    ("block-closed-steady-ties", "producer=closed&producers=3&arrivals=steady&rate=50&queue=3"
     "&service_dist=constant&service_time=0.1&items=200", None),
    ("closed-asap-many-producers", "producer=closed&producers=4&arrivals=asap&queue=2&workers=3"
     "&limit=2&service_dist=constant&service_time=0.15&items=40", None),
    ("closed-wave", "producer=closed&producers=4&arrivals=wave&period=2&rate=60&queue=4&items=300", None),
    ("closed-bursts", "producer=closed&arrivals=bursts&burst=7&period=0.5&producers=2&queue=3&items=60",
     None),
    ("reject", "policy=reject&rate=80&queue=10&workers=4&limit=4&service_time=0.06", 10),
    ("reject-steady-constant-ties", "policy=reject&arrivals=steady&rate=40&queue=2&workers=2&limit=2"
     "&service_dist=constant&service_time=0.1", 6),
    ("drop-oldest", "policy=drop-oldest&rate=80&queue=5", 8),
    ("drop-oldest-max-age", "policy=drop-oldest&rate=80&queue=5&max_age=0.2", 8),
    ("put-timeout", "policy=timeout&put_timeout=0.3&rate=80&queue=5", 8),
    ("put-timeout-steady-ties", "policy=timeout&put_timeout=0.1&arrivals=steady&rate=100&queue=2"
     "&service_dist=constant&service_time=0.05&workers=2&limit=1&timeout=0.05", 5),
    ("put-timeout-bursts-finite", "policy=timeout&put_timeout=0.25&arrivals=bursts&burst=20&period=1"
     "&queue=4&items=100", None),
    ("processing-timeout-lognormal", "timeout=0.12&rate=60&service_dist=lognormal", 8),
    ("processing-timeout-at-completion", "timeout=0.1&service_dist=constant&service_time=0.1"
     "&arrivals=steady&rate=30", 4),
    ("max-age", "max_age=0.5&rate=80&queue=50", 8),
    ("limit-below-workers", "workers=8&limit=2&rate=30&queue=10&service_time=0.05", 8),
    ("capacity-congestion", "arrivals=steady&rate=40&workers=8&limit=3&capacity=2"
     "&service_dist=constant&items=150", None),
    ("no-semaphore-capacity", "workers=16&limit=0&capacity=3&rate=40&queue=20", 8),
    ("open-bursts-block-timeout", "arrivals=bursts&burst=30&period=1&rate=5&queue=10&timeout=0.2", 6),
    ("wave-reject", "arrivals=wave&period=3&rate=50&policy=reject&queue=5", 10),
    ("drain-finite-open", "rate=50&queue=4&items=120&workers=3&limit=2", None),
    ("unbounded-oom", "preset=unbounded-oom", 40),
    ("oom-timeout", "memory=30&restart=0.5&rate=100&queue=0&timeout=0.3", 8),
    ("oom-closed-asap", "memory=20&producer=closed&producers=5&arrivals=asap&queue=30&items=500"
     "&restart=1", None),
    ("oom-mid-burst", "arrivals=bursts&burst=40&period=1&memory=35&queue=0", 6),
    # A full queue refuses with put_nowait: the refused request never held memory, so a
    # service holding exactly MEMORY items (queue 30 + 5 workers) never crashes...
    ("reject-at-the-memory-limit", "policy=reject&queue=30&workers=5&limit=0&memory=35&rate=120"
     "&service_time=0.1", 6),
    # ...and one that holds more (a bigger queue) crashes on an item the queue took.
    ("reject-past-the-memory-limit", "policy=reject&queue=40&workers=5&limit=0&memory=35&rate=120"
     "&service_time=0.1&restart=0.5", 6),
    ("contention-closed-asap", "producer=closed&producers=2&arrivals=asap&queue=10&workers=12&limit=0"
     "&capacity=4&contention=0.2&service_dist=constant&items=300", None),
    ("contention-open-timeout", "workers=16&limit=0&capacity=3&contention=0.5&rate=40&queue=20&timeout=0.4", 8),
    # The world around the program (issue 9): rate limits, retries, backoff jitters, budgets.
    ("rate-limit-reject", "rate_limit=20&rate=40&workers=8&limit=0&queue=20&policy=reject", 6),
    ("rate-limit-bursts-depth", "rate_limit=10&rate_burst=3&arrivals=bursts&burst=15&period=1&rate=5", 5),
    ("rate-limit-timeout", "rate_limit=25&timeout=0.15&rate=40&service_dist=lognormal", 6),
    ("throttled-memory-crash", "rate_limit=10&memory=30&rate=40&queue=0&restart=0.3", 6),
    ("retries-timeout-full-jitter", "retries=3&timeout=0.12&rate=30&service_dist=lognormal&backoff=0.05", 6),
    ("retries-no-jitter", "retries=2&jitter=none&timeout=0.1&rate=40&limit=2&workers=6", 6),
    ("retries-equal-jitter-throttled", "retries=4&jitter=equal&rate_limit=15&rate=30&backoff=0.02"
     "&backoff_cap=0.2", 6),
    ("retries-decorrelated-contention", "retries=5&jitter=decorrelated&timeout=0.08&rate_limit=30&rate=50"
     "&workers=10&limit=0&capacity=4&contention=0.2", 5),
    ("retries-budget", "retries=3&retry_budget=0.2&timeout=0.1&rate=40&service_dist=lognormal", 12),
    ("retries-budget-closed-throttled", "producer=closed&producers=3&arrivals=asap&queue=5&retries=2"
     "&retry_budget=0.5&rate_limit=12&rate_burst=2&items=150", None),
    ("retries-memory-crash", "retries=3&timeout=0.1&memory=40&restart=0.5&rate=100&queue=0"
     "&service_dist=lognormal", 6),
    ("retries-max-age-drop-oldest", "retries=2&timeout=0.1&max_age=0.3&rate=60&queue=10&policy=drop-oldest", 6),
    ("retries-without-failures", "retries=3&rate=20", 4),
    ("retries-constant-ties", "retries=2&jitter=none&timeout=0.1&service_dist=constant&service_time=0.1"
     "&arrivals=steady&rate=20&backoff=0.1", 4),
    ("retries-steady-budget-one", "retries=1&retry_budget=1&jitter=none&rate_limit=5&rate_burst=1"
     "&arrivals=steady&rate=10&workers=2&limit=1", 12),
    # Past the handbook (issue 24): queue orders and CoDel.
    ("codel-overload", "rate=80&workers=4&limit=4&service_time=0.1&queue=0&codel=on&codel_target=0.05"
     "&codel_interval=0.2", 10),
    ("codel-lifo-steady-ties", "rate=60&arrivals=steady&service_dist=constant&service_time=0.1&queue=30"
     "&discipline=lifo&codel=on&codel_target=0.005&codel_interval=0.1", 8),
    ("codel-max-age-memory", "rate=90&queue=0&codel=on&codel_target=0.1&codel_interval=0.3&max_age=0.6"
     "&memory=60&restart=0.5", 8),
    ("lifo-reject", "policy=reject&discipline=lifo&rate=80&queue=8", 8),
    ("adaptive-lifo", "rate=60&queue=20&discipline=adaptive-lifo&codel_interval=0.3", 8),
    ("adaptive-lifo-codel-finite", "rate=70&queue=0&discipline=adaptive-lifo&codel=on&codel_target=0.03"
     "&codel_interval=0.2&items=300&workers=3&limit=3", None),
    # Adaptive limits (issue 24): Netflix's AIMD.
    ("aimd-timeouts-contention", "workers=32&limit=4&limiter=aimd&capacity=8&contention=0.1&rate=65"
     "&timeout=0.3", 10),
    ("aimd-retries-throttled", "limiter=aimd&limit=3&limit_min=2&limit_max=12&aimd_backoff=0.5&rate_limit=20"
     "&rate=30&workers=10&retries=2&backoff=0.05", 8),
    ("aimd-steady-ties", "limiter=aimd&limit=1&workers=8&rate=40&service_dist=constant&arrivals=steady"
     "&service_time=0.1", 6),
    ("aimd-abandon-memory-finite", "limiter=aimd&limit=4&workers=12&timeout=0.15&abandon=continue&capacity=4"
     "&contention=0.3&rate=50&memory=40&restart=0.5&items=400&queue=0", None),
    # Latency-based limits (issue 24): Netflix's Vegas and Gradient2, which read each call's round trip.
    ("vegas-contention", "workers=32&limit=4&limiter=vegas&capacity=8&contention=0.1&rate=65", 12),
    ("vegas-timeouts-retries-throttled", "limiter=vegas&limit=6&limit_min=2&limit_max=30&vegas_alpha=2"
     "&vegas_beta=4&timeout=0.2&retries=2&backoff=0.05&rate_limit=25&rate=40&workers=16&capacity=6"
     "&contention=0.2", 8),
    ("vegas-steady-ties-finite", "limiter=vegas&limit=2&workers=8&rate=40&service_dist=constant"
     "&arrivals=steady&service_time=0.1&capacity=4&items=300", None),
    ("gradient2-contention", "workers=32&limit=4&limiter=gradient2&capacity=8&contention=0.1&rate=65", 12),
    ("gradient2-abandon-memory-finite", "limiter=gradient2&limit=10&limit_min=3&gradient_tolerance=1.2"
     "&gradient_smoothing=0.5&workers=20&timeout=0.15&abandon=continue&capacity=4&contention=0.3&rate=50"
     "&memory=40&restart=0.5&items=400&queue=0&service_dist=lognormal", None),
    ("retries-finite-drain", "retries=2&timeout=0.1&rate=50&items=200&workers=3&limit=2"
     "&service_dist=lognormal", None),
    ("abandon-continue", "abandon=continue&timeout=0.1&rate=40&service_dist=lognormal", 6),
    ("abandon-continue-contention", "abandon=continue&timeout=0.12&rate=60&workers=12&limit=0&capacity=4"
     "&contention=0.2", 6),
    ("abandon-continue-semaphore-ties", "abandon=continue&timeout=0.1&service_dist=constant&service_time=0.1"
     "&arrivals=steady&rate=30&workers=4&limit=2", 4),
    ("abandon-continue-retries-no-budget", "abandon=continue&timeout=0.25&retries=3&jitter=none&rate=70"
     "&workers=40&limit=0&capacity=10&contention=0.1&arrivals=steady", 8),
    ("abandon-continue-retries-budget-throttled", "abandon=continue&timeout=0.1&retries=2&retry_budget=0.3"
     "&rate_limit=25&rate=40&service_dist=lognormal", 8),
    ("abandon-continue-memory-crash", "abandon=continue&timeout=0.1&memory=40&restart=0.5&rate=100&queue=0"
     "&service_dist=lognormal", 6),
    ("abandon-continue-finite", "abandon=continue&timeout=0.08&items=150&rate=50&workers=3&limit=2"
     "&service_dist=lognormal", None),
    ("client-retries-reject", "policy=reject&queue=5&rate=80&client_retries=2", 6),
    ("client-retries-reject-no-jitter-ties", "policy=reject&queue=2&arrivals=steady&rate=40&client_retries=3"
     "&jitter=none&backoff=0.05&service_dist=constant&service_time=0.1&workers=2&limit=2", 5),
    ("client-retries-put-timeout", "policy=timeout&put_timeout=0.2&queue=4&rate=70&client_retries=2"
     "&jitter=equal", 8),
    ("client-retries-bursts-memory", "policy=reject&queue=10&arrivals=bursts&burst=40&period=1&rate=10"
     "&client_retries=3&jitter=decorrelated&memory=60&restart=0.5", 6),
    ("client-and-worker-retries", "policy=reject&queue=8&rate=60&client_retries=2&retries=2&timeout=0.1"
     "&rate_limit=30&max_age=0.5&service_dist=lognormal", 8),
    ("client-retries-finite", "policy=reject&queue=3&rate=60&items=200&client_retries=1&workers=3", None),
    # Seed 0's first call draws a length of -0.0 s: asyncio.sleep(-0.0) is sleep(0), one pass
    # of the ready queue, not a timer that waits until nothing else is ready (issue 21, item 8).
    ("zero-length-call", "seed=0&producer=closed&arrivals=asap&queue=1&items=30&workers=2&limit=0", None),
    ("everything", "policy=drop-oldest&max_age=0.2&memory=50&timeout=0.1&rate=80&queue=5&capacity=3"
     "&workers=6&limit=4", 8),
]


def engine_trace(scenario: Scenario, until: float | None) -> list[str]:
    engine = Engine(scenario, event_cap=None)
    engine.run(until)
    if until is None:
        assert engine.finished, "a finite scenario must run to its end"
    return [trace.line(event) for event in engine.read_events()]
