"""Presets: named starting scenarios, one per situation the handbook page talks about.

A preset is only data: a name, a title, what to notice, and the link keys it changes from the
defaults. `playground.model.scenario` validates them (`Scenario.from_preset`); this module imports
nothing from it, so the two cannot import each other in a circle.

Offered load below means rate × service_time / min(workers, limit or workers): above 1 the
queue grows without bound, so "overloaded" presets sit between 1.2 and 2 and calm ones below 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    """A named scenario a page or a link can start from."""

    name: str
    """The link value, e.g. ``preset=handbook``."""
    title: str
    """A short human title for the preset menu."""
    notice: str
    """Two or three sentences on what to watch, written for a teacher projecting the page."""
    overrides: dict
    """Link keys and values that differ from the defaults (treat as read-only)."""
    try_this: tuple = ()
    """One-click changes the page offers, tied to the claims: (button label, {link key: value})
    applied live, or (button label, "preset=NAME") to open another preset (a change that cannot
    be made live, such as the printed handbook's fix)."""

    b: dict = field(default_factory=dict)
    """A comparison preset: service B's link keys, as changes of this preset's scenario (A); the
    preset's link then opens both (see playground/compare.py). Empty for one service."""
    of: str | None = None
    """A comparison preset: the one-service preset its A is (links to one service use it)."""

    @property
    def link(self) -> str:
        """The canonical share link query of the unchanged preset."""
        return f"v=1&preset={self.name}"


def _presets(*presets: Preset) -> dict[str, Preset]:
    return {preset.name: preset for preset in presets}


#: The handbook's example; handbook-as-printed is the same with its early join.
_HANDBOOK = dict(
    producer="closed",
    producers=1,
    arrivals="asap",
    items=6,
    queue=2,
    limit=2,
    workers=3,
    service_time=0.15,
    service_dist="constant",
    policy="block",
)

#: The retry storm's service; retry-budget is the same with a retry budget.
_RETRY_STORM = dict(
    arrivals="steady",
    rate=65,
    workers=100,
    limit=0,
    capacity=10,
    contention=0.1,
    service_time=0.1,
    # Lognormal calls: a tail heavy enough that some time out, light enough that 65 a second
    # never tips it over by chance (600 s at seeds 1-16); exponential calls at 70 a second
    # collapsed by themselves within 90 s at half the seeds.
    service_dist="lognormal",
    timeout=0.25,
    queue=0,
    retries=3,
    jitter="none",
)


PRESETS: dict[str, Preset] = _presets(
    Preset(
        name="handbook",
        title="The handbook's example",
        notice=(
            "Six items, a queue of two, three workers and a semaphore of two: the handbook's program "
            "with the one change it needs to finish (the producer is awaited before the queue is "
            "joined; see handbook-as-printed). Watch the producer wait as soon as the queue holds two items, and the third "
            "worker wait at the semaphore while two others call the downstream. "
            "Everything finishes in about half a second, then the queue is joined and shut down."
        ),
        overrides=_HANDBOOK,
        try_this=(
            ('Set the queue to 1', {'queue': 1}),
        ),
    ),
    Preset(
        name="webhook-ingestion",
        title="Webhook ingestion: reject when full",
        notice=(
            "Webhooks arrive faster than four workers can handle them (offered load 1.5). "
            "Watch the queue fill in the first seconds, then new requests are rejected with a 429 "
            "and the rejected count climbs while the queue stays at its limit. "
            "Latency of accepted requests stays bounded: the queue absorbs bursts, the policy sheds the rest."
        ),
        overrides=dict(
            arrivals="poisson",
            rate=60,
            queue=40,
            policy="reject",
            workers=4,
            limit=4,
            service_time=0.1,
        ),
        try_this=(
            ('Switch to block', {'policy': 'block'}),
        ),
    ),
    Preset(
        name="api-fan-out",
        title="API fan-out: a semaphore protects a rate-limited API",
        notice=(
            "Sixteen workers, but the downstream API only takes four calls at once, and the semaphore "
            "lets exactly four through. Watch the other workers wait at the semaphore while the API "
            "answers at full speed. Raise the limit above 4 and see the calls slow down: past four at "
            "once the API takes longer over each."
        ),
        overrides=dict(
            rate=30,
            queue=100,
            policy="timeout",
            put_timeout=2,
            workers=16,
            limit=4,
            capacity=4,
            service_time=0.1,
        ),
        try_this=(
            ('Raise the limit to 8', {'limit': 8}),
        ),
    ),
    Preset(
        name="background-jobs",
        title="Background jobs: producers wait",
        notice=(
            "Two producers loop, each waiting for its put before making the next job; the workers "
            "are slower than the producers (offered load 1.5). Watch the queue fill to ten, then the "
            "producers stop and wait at put: backpressure slows them to the workers' pace. "
            "Nothing is lost and nothing piles up beyond the queue."
        ),
        overrides=dict(
            producer="closed",
            producers=2,
            arrivals="steady",
            rate=30,
            queue=10,
            policy="block",
            workers=4,
            limit=4,
            service_time=0.2,
        ),
        try_this=(
            ('Switch to reject', {'policy': 'reject'}),
        ),
    ),
    Preset(
        name="bursty-pipeline",
        title="Bursty pipeline: the queue absorbs bursts",
        notice=(
            "Every second and a half a burst of 80 items lands on top of a light trickle. Watch the "
            "queue jump, then the eight workers drain it in about a second, before the next burst. "
            "Shrink the queue below 80 and the bursts no longer fit: items are rejected."
        ),
        overrides=dict(
            arrivals="bursts",
            rate=5,
            burst=80,
            period=1.5,
            queue=120,
            policy="reject",
            workers=8,
            limit=8,
            service_time=0.1,
        ),
        try_this=(
            ('Shrink the queue to 40', {'queue': 40}),
        ),
    ),
    Preset(
        name="unbounded-oom",
        title="Unbounded queue: memory climbs to a crash",
        notice=(
            "The queue has no limit and items arrive 1.5 times faster than they are served, so about "
            "20 more items are held every second. Watch memory climb for some 25 seconds until the "
            "service crashes out of memory, loses everything it held, restarts, and starts climbing again. "
            "A queue limit alone does not save it: requests blocked at a full queue still hold memory. "
            "Bound the queue and reject when full, and the crash goes away."
        ),
        overrides=dict(
            rate=60,
            queue=0,
            policy="block",
            workers=4,
            limit=4,
            service_time=0.1,
            memory=500,
            restart=3,
        ),
        try_this=(
            ('Bound the queue at 50', {'queue': 50}),
            ('Bound it and reject when full', {'queue': 50, 'policy': 'reject'}),
        ),
    ),
    Preset(
        name="no-semaphore",
        title="No semaphore: 32 workers hammer the downstream",
        notice=(
            "Thirty-two workers and no semaphore call a downstream that does eight calls at once at "
            "full speed and loses throughput past that (contention: locks, a pool, GC). Watch the "
            "calls in flight climb past eight within seconds: every call slows, more pile up, and it "
            "completes under half of the 65 items a second that arrive while the queue and the waiting "
            "requests grow. "
            "Set the limit to 8 and it keeps up again: a queue alone does not limit how hard workers "
            "hit a dependency; a semaphore does."
        ),
        overrides=dict(
            # 65 a second, not 50: at 50 the service holds out by chance for up to a minute at
            # some seeds; at 65 it tips within 6 s at seeds 1-16.
            rate=65,
            queue=50,
            policy="block",
            workers=32,
            limit=0,
            capacity=8,
            contention=0.1,
            service_time=0.1,
        ),
        try_this=(
            ('Set the limit to 8', {'limit': 8}),
        ),
    ),
    Preset(
        name="stale-work",
        title="Stale work: drop what nobody waits for",
        notice=(
            "Items arrive 1.5 times faster than they are served and wait in a long queue; any item older "
            "than 2 seconds is thrown away when a worker takes it. Watch the stale count climb while "
            "the latency of served items stays near two seconds instead of growing. "
            "Set max_age to 0 and watch the waiting time grow without bound."
        ),
        overrides=dict(
            rate=60,
            queue=200,
            policy="block",
            max_age=2,
            workers=4,
            limit=4,
            service_time=0.1,
        ),
        try_this=(
            ('Set max age to 0', {'max_age': 0}),
        ),
    ),
    Preset(
        name="retry-storm",
        title="Retry storm: a hiccup it never recovers from",
        notice=(
            "A service at 65 % of its downstream's capacity: a hundred workers, no semaphore, "
            "calls that time out at 0.25 s and are retried three times with neither jitter nor "
            "budget; retries cover the few calls that time out, and it serves more than 999 items in "
            "1,000. Press Hiccup (h), the downstream five times "
            "slower for three seconds: calls time out, their retries keep more calls in flight, past "
            "capacity every call is slower, and those time out too. Goodput stays under a third of "
            "what it was for minutes after the hiccup is over; compare retry-budget."
        ),
        overrides=_RETRY_STORM,
        try_this=(
            ('Add a retry budget of 0.1', {'retry_budget': 0.1}),
            ('Add a semaphore of 10', {'limit': 10}),
        ),
    ),
    Preset(
        name="retry-budget",
        title="Retry budget: the same hiccup, shrugged off",
        notice=(
            "The retry storm's service with one change: retries may be at most a tenth of first "
            "attempts over the last 10 s. Press Hiccup (h): goodput dips while the downstream is "
            "slow and is back to what it was within ten seconds of the hiccup's end."
        ),
        overrides={**_RETRY_STORM, "retry_budget": 0.1},
        try_this=(
            ('Remove the budget', {'retry_budget': 0}),
        ),
    ),
    Preset(
        name="rate-limited-fan-out",
        title="Rate-limited fan-out: a semaphore sized by Little's law",
        notice=(
            "Every five seconds a burst of 100 requests lands on sixteen workers that call an API "
            "allowing 40 calls a second. The semaphore is sized by Little's law, 40 calls a second "
            "times 0.1 s a call = 4 calls at once, so almost nothing is throttled: each burst waits its "
            "turn in the queue. Set the limit to 0 and the workers fire whole bursts at the API: over a "
            "fifth of the items come back throttled (429)."
        ),
        overrides=dict(
            arrivals="bursts",
            burst=100,
            period=5,
            rate=20,
            queue=200,
            policy="block",
            workers=16,
            limit=4,
            rate_limit=40,
            service_time=0.1,
        ),
        try_this=(
            ('Set the limit to 0', {'limit': 0}),
            ('Set the limit to 8', {'limit': 8}),
        ),
    ),
    Preset(
        name="handbook-as-printed",
        title="The handbook's example as printed: it fails",
        notice=(
            "The handbook's example exactly as printed, on Python 3.13: main() starts its tasks and "
            "awaits queue.join() at once. Nothing has been put yet, so join() returns immediately and "
            "queue.shutdown() runs before the producer takes a step: its first put raises "
            "QueueShutDown, the three workers find the queue shut down and stop, and the TaskGroup "
            "raises an ExceptionGroup. Not one item is handled. The fix is one line: await the "
            "producer before joining the queue (the handbook preset)."
        ),
        overrides={**_HANDBOOK, "join": "at-start"},
        try_this=(
            ("Apply the fix: await the producer, then join", "preset=handbook"),
        ),
    ),
    Preset(
        name="standing-queue",
        title="A standing queue: twice the load, served oldest first",
        notice=(
            "Eighty requests a second reach four workers that serve forty, through a queue with no "
            "bound that hands out the oldest first. A minute in, the p99 latency is past 25 seconds, "
            "and it keeps growing. Turn CoDel on and the p99 latency stays under a second while it "
            "completes at least nine tenths as much: it drops what has waited too long."
        ),
        overrides=dict(
            rate=80,
            queue=0,
            policy="block",
            workers=4,
            limit=4,
            service_time=0.1,
        ),
        try_this=(
            ("Turn CoDel on", {"codel": "on"}),
            ("Serve the newest first (LIFO)", {"discipline": "lifo"}),
            ("Adaptive LIFO", {"discipline": "adaptive-lifo"}),
        ),
    ),
)


def _comparing(name: str, title: str, notice: str, of: str, b: dict) -> Preset:
    """A comparison preset: the single preset ``of`` as A, beside B = A with ``b``."""
    return Preset(name=name, title=title, notice=notice, overrides=PRESETS[of].overrides, b=b, of=of)


#: Comparisons: each question of the handbook as two services on the same arrivals. Every outcome
#: sentence of a notice is one of its claims (playground/lessons.py), word for word.
PRESETS.update(_presets(
    _comparing(
        "semaphore-vs-none", "Compare: no semaphore vs. a semaphore of 8",
        "The same 65 requests a second reach two services of 32 workers each, calling a downstream "
        "that slows down past 8 calls at once; A has no semaphore, B a semaphore of 8. "
        "Within ten seconds A has completed less than nine tenths of what B has. "
        "A completes under half of the 65 items a second that arrive. "
        "B completes at least half as much again as A, with p99 latency at most half as long.",
        of="no-semaphore", b={"limit": 8}),
    _comparing(
        "bounded-vs-unbounded", "Compare: unbounded queue vs. bounded, rejecting",
        "Requests arrive 1.5 times faster than the service handles them. A's queue has no bound; "
        "B's holds 50 and rejects the rest. "
        "A's memory climbs until it crashes out of memory within 40 seconds. "
        "B never crashes, and its p99 latency stays under two seconds.",
        of="unbounded-oom", b={"queue": 50, "policy": "reject"}),
    _comparing(
        "reject-vs-drop-oldest", "Compare: reject new work vs. drop the oldest",
        "Webhooks arrive 1.5 times faster than four workers handle them, into a queue of 40. A "
        "rejects a new request when the queue is full; B drops the oldest waiting one. "
        "Both lose about a third of the requests. "
        "B's served requests waited less, so its median latency is lower than A's.",
        of="webhook-ingestion", b={"policy": "drop-oldest"}),
    _comparing(
        "drop-stale-vs-keep", "Compare: drop stale work vs. keep it all",
        "Requests arrive faster than four workers serve them, into a queue of 200. A drops work "
        "older than two seconds; B keeps everything. "
        "A's stale count climbs while served items' latency stays near two seconds. "
        "B's median latency grows past twice A's and keeps growing.",
        of="stale-work", b={"max_age": 0}),
    _comparing(
        "retry-budget-vs-none", "Compare: retries without vs. with a budget",
        "Two copies of a service whose slow calls time out and are retried, the same until you "
        "press Hiccup (the downstream 5 times slower for 3 s); B's retries may add at most a tenth "
        "to its calls. "
        "After one Hiccup, A's goodput stays under a third of what it was for minutes. "
        "B is back to what it was within ten seconds of the hiccup's end.",
        of="retry-storm", b={"retry_budget": 0.1}),
    _comparing(
        "fifo-vs-codel", "Compare: keep every request vs. CoDel",
        "Eighty requests a second reach two services that each serve forty, through queues with no "
        "bound; B runs CoDel (RFC 8289: a 5 ms target, a 100 ms interval). "
        "A's p99 latency is past 25 seconds a minute in. "
        "B's p99 latency stays under a second, and it completes at least nine tenths of what A completes.",
        of="standing-queue", b={"codel": "on"}),
    _comparing(
        "vegas-vs-none", "Compare: no limit vs. a Vegas limit (reads latency)",
        "Thirty-two workers call a downstream that slows past eight calls at once; A has no "
        "semaphore, B a Vegas limiter (Netflix's) that starts at 4 permits and reads how long "
        "each call takes. Nothing fails: only latency can tell B where the knee is. "
        "A completes under half of the 65 items a second that arrive. "
        "B completes at least twice what A completes, and its limit ends the minute between 4 and 12.",
        of="no-semaphore", b={"limit": 4, "limiter": "vegas"}),
))
