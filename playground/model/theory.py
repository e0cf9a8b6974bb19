"""Closed-form queueing theory used to sanity-check the simulator.

Everything here is pure Python (``math`` only) and numerically stable for
``c`` up to a few hundred servers and system capacities ``K`` in the tens of
thousands: the M/M/c/K stationary distribution is built from log-space
weights (never raw factorials or powers), and the Erlang formulas use their
standard stable recursions.

Notation (Kleinrock / Gross & Harris):

* ``λ`` arrival rate, ``μ = 1/service_time`` service rate per server,
  ``c`` servers, ``K`` total capacity (in service + waiting).
* ``a = λ/μ`` offered load in Erlangs, ``ρ = a/c`` per-server load.
* ``L`` mean number in system, ``Lq`` mean number waiting,
  ``W`` mean time in system, ``Wq`` mean time waiting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "QueueStats",
    "erlang_b",
    "erlang_c",
    "for_scenario",
    "littles_law",
    "littles_law_gap",
    "mm1",
    "mmc",
    "mmck",
]

#: Denominator floor for relative errors (avoids division by zero when L = 0).
_TINY = 1e-12


@dataclass(frozen=True)
class QueueStats:
    """Steady-state metrics of a Markovian queue.

    ``throughput`` is the long-run rate of admitted (and hence completed)
    items, ``λ(1 − P_block)``; ``utilization`` is ``throughput / (cμ)``,
    the mean fraction of busy servers. ``mean_latency`` (W) and
    ``mean_wait`` (Wq) are per *admitted* item, so Little's law reads
    ``L = throughput · W``. ``capacity`` is ``None`` for an unbounded queue.
    For an unstable unbounded queue (``stable=False``) the means are
    ``math.inf``.
    """

    arrival_rate: float
    service_rate: float
    servers: int
    capacity: int | None
    blocking: float
    throughput: float
    utilization: float
    mean_in_system: float
    mean_in_queue: float
    mean_latency: float
    mean_wait: float
    stable: bool

    @property
    def offered_load(self) -> float:
        """Offered load ``a = λ/μ`` in Erlangs."""
        return self.arrival_rate / self.service_rate

    @property
    def rho(self) -> float:
        """Per-server offered load ``ρ = λ/(cμ)`` (may exceed 1)."""
        return self.arrival_rate / (self.servers * self.service_rate)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-safe ``dict`` (non-finite floats become ``None``)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[key] = value
        out["offered_load"] = self.offered_load
        out["rho"] = self.rho
        return out


# ----------------------------------------------------------------- validation


def _check_rates(arrival_rate: float, service_time: float) -> tuple[float, float]:
    lam = float(arrival_rate)
    st = float(service_time)
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"arrival_rate must be finite and >= 0, got {arrival_rate!r}")
    if not math.isfinite(st) or st <= 0:
        raise ValueError(f"service_time must be finite and > 0, got {service_time!r}")
    return lam, 1.0 / st


def _check_servers(servers: int) -> int:
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")
    return int(servers)


def _check_load(servers: int, offered_load: float) -> tuple[int, float]:
    c = _check_servers(servers)
    a = float(offered_load)
    if not math.isfinite(a) or a < 0:
        raise ValueError(f"offered_load must be finite and >= 0, got {offered_load!r}")
    return c, a


# ------------------------------------------------------------ Erlang formulas


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B: blocking probability of the M/M/c/c loss system.

    ``B(c, a) = (a^c/c!) / Σ_{k=0..c} a^k/k!``, evaluated with the stable
    recursion ``B(0) = 1``, ``B(k) = a·B(k−1) / (k + a·B(k−1))``.
    """
    c, a = _check_load(servers, offered_load)
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability an arrival must wait in M/M/c (unbounded queue).

    ``C(c, a) = c·B / (c − a·(1 − B))`` with ``B = erlang_b(c, a)``; valid for
    ``a < c``. For ``a >= c`` the queue is unstable and every arrival waits
    eventually, so 1.0 is returned.
    """
    c, a = _check_load(servers, offered_load)
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


# --------------------------------------------------------------- Little's law


def littles_law(throughput: float, mean_latency: float) -> float:
    """Little's law ``L = λ·W`` (λ = throughput of admitted items)."""
    if throughput == 0:
        return 0.0
    return throughput * mean_latency


def littles_law_gap(mean_in_system: float, throughput: float, mean_latency: float) -> float:
    """Relative Little's-law error ``|L − λW| / max(L, tiny)``.

    Returns 0.0 when both sides are the same infinity (unstable queue) and
    ``inf`` if only one side is infinite.
    """
    rhs = littles_law(throughput, mean_latency)
    if math.isinf(mean_in_system) or math.isinf(rhs):
        return 0.0 if mean_in_system == rhs else math.inf
    return abs(mean_in_system - rhs) / max(abs(mean_in_system), _TINY)


# -------------------------------------------------------------- queue models


def _idle(lam: float, mu: float, c: int, capacity: int | None) -> QueueStats:
    """Stats with no traffic: empty system, an (imaginary) item's W = 1/μ."""
    return QueueStats(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        capacity=capacity,
        blocking=0.0,
        throughput=0.0,
        utilization=0.0,
        mean_in_system=0.0,
        mean_in_queue=0.0,
        mean_latency=1.0 / mu,
        mean_wait=0.0,
        stable=True,
    )


def _mmck_weights(a: float, c: int, k_max: int) -> list[float]:
    """Unnormalised M/M/c/K probabilities ``p_n · Z / p_max`` for n = 0..K.

    Log weights are taken relative to state ``c``: ``u_n = log(p_n/p_c)``.
    Below ``c`` they come from the short downward recursion
    ``u_{n−1} = u_n − log a + log n`` (at most c steps); above ``c`` they are
    the exact geometric ``(n − c)·log ρ``. Differences from the peak are
    formed directly (``(n − m)·log ρ`` when both lie in the tail), so no
    large log values are subtracted and nothing over- or underflows harmfully.
    """
    log_a = math.log(a)
    log_rho = log_a - math.log(c)
    top = min(c, k_max)
    head = [0.0] * (top + 1)  # u_0..u_c
    for n in range(top, 0, -1):
        head[n - 1] = head[n] - log_a + math.log(n)
    # peak: head maximum vs. tail end (tail is monotone in n)
    m = max(range(top + 1), key=head.__getitem__)
    if k_max > c and log_rho > 0:
        m_tail = k_max
        if (m_tail - c) * log_rho > head[m]:
            m = m_tail
    u_m = head[m] if m <= c else (m - c) * log_rho
    weights = [0.0] * (k_max + 1)
    for n in range(top + 1):
        weights[n] = math.exp(head[n] - u_m)
    for n in range(c + 1, k_max + 1):
        d = (n - m) * log_rho if m >= c else (n - c) * log_rho - u_m
        weights[n] = math.exp(d)
    return weights


def mmck(arrival_rate: float, service_time: float, servers: int, capacity: int) -> QueueStats:
    """M/M/c/K: Poisson arrivals, c exponential servers, at most K in system.

    Birth–death stationary distribution (Gross & Harris §2.5):
    ``p_n ∝ a^n/n!`` for ``n ≤ c`` and ``p_n ∝ a^c/c! · ρ^(n−c)`` for
    ``c < n ≤ K``. Arrivals finding ``K`` present are refused (PASTA), so
    ``P_block = p_K``. Weights are accumulated in log space and normalised by
    their maximum, so the O(K) evaluation never overflows (c=256, K=20000 and
    heavy overload are fine). ``mean_in_queue`` counts only waiting items.
    Finite capacity means the chain is always ergodic: ``stable`` is True.
    """
    lam, mu = _check_rates(arrival_rate, service_time)
    c = _check_servers(servers)
    if isinstance(capacity, bool) or int(capacity) != capacity or capacity < c:
        raise ValueError(f"capacity must be an integer >= servers ({c}), got {capacity!r}")
    k_max = int(capacity)
    if lam == 0 or lam / mu == 0.0:  # no traffic (or offered load underflows)
        return _idle(lam, mu, c, k_max)

    weights = _mmck_weights(lam / mu, c, k_max)
    z_open = math.fsum(weights[:-1])  # mass of states 0..K-1 (arrival admitted)
    p_full = weights[-1]
    z = z_open + p_full
    p_block = p_full / z
    big_l = math.fsum(n * p for n, p in enumerate(weights)) / z
    lq = math.fsum((n - c) * weights[n] for n in range(c + 1, k_max + 1)) / z
    # λ·(1 − p_K), with 1 − p_K summed directly: no cancellation when p_K ≈ 1.
    throughput = lam * (z_open / z)
    return QueueStats(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        capacity=k_max,
        blocking=p_block,
        throughput=throughput,
        utilization=throughput / (c * mu),
        mean_in_system=big_l,
        mean_in_queue=lq,
        mean_latency=big_l / throughput,
        mean_wait=lq / throughput,
        stable=True,
    )


def mmc(arrival_rate: float, service_time: float, servers: int) -> QueueStats:
    """M/M/c with an unbounded queue (Erlang C model).

    For ``ρ = λ/(cμ) < 1``: ``Lq = C(c,a)·ρ/(1−ρ)``, ``Wq = C(c,a)/(cμ − λ)``,
    ``W = Wq + 1/μ``, ``L = λW``. For ``ρ >= 1`` no steady state exists:
    ``stable=False``, ``L, Lq, W, Wq = inf``, and throughput is reported as the
    saturated departure rate ``cμ`` (utilization 1.0) rather than λ.
    """
    lam, mu = _check_rates(arrival_rate, service_time)
    c = _check_servers(servers)
    if lam == 0:
        return _idle(lam, mu, c, None)
    a = lam / mu
    rho = a / c
    if rho >= 1.0:
        return QueueStats(
            arrival_rate=lam,
            service_rate=mu,
            servers=c,
            capacity=None,
            blocking=0.0,
            throughput=c * mu,
            utilization=1.0,
            mean_in_system=math.inf,
            mean_in_queue=math.inf,
            mean_latency=math.inf,
            mean_wait=math.inf,
            stable=False,
        )
    pw = erlang_c(c, a)
    wq = pw / (c * mu - lam)
    w = wq + 1.0 / mu
    return QueueStats(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        capacity=None,
        blocking=0.0,
        throughput=lam,
        utilization=rho,
        mean_in_system=lam * w,
        mean_in_queue=lam * wq,
        mean_latency=w,
        mean_wait=wq,
        stable=True,
    )


def mm1(arrival_rate: float, service_time: float) -> QueueStats:
    """M/M/1: ``L = ρ/(1−ρ)``, ``W = 1/(μ−λ)`` (``mmc`` with one server)."""
    return mmc(arrival_rate, service_time, 1)


# ---------------------------------------------------------- scenario mapping


def downstream_throughput(in_flight: int, service_time: float, capacity: int, contention: float = 0.0) -> float:
    """Calls per second a downstream completes with ``in_flight`` calls kept in flight.

    The playground's downstream: a call starting with n in flight takes
    ``S max(1, n/C) (1 + k max(0, n - C))``, so n calls in flight complete
    ``n / that`` = ``min(n, C) / (S (1 + k max(0, n - C)))`` per second. With k = 0 it
    rises to ``C / S`` and stays there (processor sharing); with k > 0 it falls past C,
    like the Universal Scalability Law's retrograde region (Gunther:
    ``X(n) = n / (S (1 + s (n - 1) + k n (n - 1)))``, here with no loss below C)."""
    if in_flight < 1 or service_time <= 0 or capacity < 0 or contention < 0:
        raise ValueError("in_flight >= 1, service_time > 0, capacity >= 0 and contention >= 0 are needed")
    if not capacity:
        return in_flight / service_time
    excess = max(0, in_flight - capacity)
    return min(in_flight, capacity) / (service_time * (1 + contention * excess))


def for_scenario(scenario: Any) -> QueueStats | None:
    """Theoretical stats for a simulator Scenario, or ``None`` if no exact model.

    The model is M/M/c(/K) only when all of these hold:

    * ``arrivals == "poisson"`` and ``service_dist == "exponential"``
      (Markovian arrivals and service);
    * ``producer == "open"`` (arrivals don't depend on system state, unlike a
      closed-loop producer);
    * ``capacity == 0`` (no extra downstream capacity limit);
    * ``limit == 0`` or ``limit >= workers``: the concurrency limit never
      binds, so ``c = workers``. With ``limit < workers`` a worker can hold
      an item while waiting for a permit, which is not M/M/c/K → ``None``;
    * ``queue == 0`` (unbounded) → M/M/c, any policy (nothing is ever refused);
    * ``queue > 0`` with ``policy == "reject"`` → M/M/c/K with
      ``K = c + queue``: an idle worker pulls from the queue immediately, so
      the queue is exactly the waiting room and a full system refuses arrivals.
      Other bounded-queue policies (block, timeout, drop-oldest) are not a
      pure loss system → ``None``.
    """
    try:
        arrivals = scenario.arrivals
        service_dist = scenario.service_dist
        producer = scenario.producer
        capacity = scenario.capacity
        workers = int(scenario.workers)
        limit = int(scenario.limit)
        queue = int(scenario.queue)
        policy = scenario.policy
        rate = float(scenario.rate)
        service_time = float(scenario.service_time)
    except (AttributeError, TypeError, ValueError):
        return None
    if arrivals != "poisson" or service_dist != "exponential":
        return None
    if producer != "open" or capacity != 0:
        return None
    if workers < 1 or service_time <= 0 or rate < 0 or queue < 0:
        return None
    if limit != 0 and limit < workers:
        return None
    c = workers
    if queue == 0:
        return mmc(rate, service_time, c)
    if policy == "reject":
        return mmck(rate, service_time, c, c + queue)
    return None
