"""Known-value and property tests for playground.model.theory."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.model.theory import (
    QueueStats,
    erlang_b,
    erlang_c,
    for_scenario,
    littles_law,
    littles_law_gap,
    mm1,
    mmc,
    mmck,
)

approx = pytest.approx


# ----------------------------------------------------------------- M/M/1


def test_mm1_textbook():
    s = mm1(0.5, 1.0)
    assert s.stable
    assert s.capacity is None
    assert s.blocking == 0.0
    assert s.throughput == approx(0.5)
    assert s.utilization == approx(0.5)
    assert s.mean_in_system == approx(1.0)
    assert s.mean_latency == approx(2.0)
    assert s.mean_in_queue == approx(0.5)
    assert s.mean_wait == approx(1.0)


def test_mm1_service_time_is_mean_seconds():
    # λ = 2/s, service 0.25 s → μ = 4, ρ = 0.5, W = 1/(μ−λ) = 0.5
    s = mm1(2.0, 0.25)
    assert s.service_rate == approx(4.0)
    assert s.mean_latency == approx(0.5)
    assert s.mean_in_system == approx(1.0)


@pytest.mark.parametrize("lam", [1.0, 1.5, 10.0])
def test_mm1_unstable_does_not_raise(lam):
    s = mm1(lam, 1.0)
    assert not s.stable
    assert math.isinf(s.mean_in_system) and math.isinf(s.mean_latency)
    assert math.isinf(s.mean_in_queue) and math.isinf(s.mean_wait)
    assert s.throughput == approx(1.0)  # saturated at cμ
    assert littles_law_gap(s.mean_in_system, s.throughput, s.mean_latency) == 0.0
    data = s.to_json()
    assert data["mean_in_system"] is None
    json.dumps(data, allow_nan=False)


def test_zero_arrivals():
    for s in (mm1(0.0, 1.0), mmck(0.0, 2.0, 3, 5)):
        assert s.mean_in_system == 0.0
        assert s.throughput == 0.0
        assert s.blocking == 0.0
        assert s.stable


# ---------------------------------------------------------------- M/M/1/K


def mm1k_block(rho: float, k: int) -> float:
    if rho == 1.0:
        return 1.0 / (k + 1)
    return (1 - rho) * rho**k / (1 - rho ** (k + 1))


def mm1k_l(rho: float, k: int) -> float:
    if rho == 1.0:
        return k / 2
    return rho / (1 - rho) - (k + 1) * rho ** (k + 1) / (1 - rho ** (k + 1))


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 1.0, 1.2, 2.0, 5.0])
@pytest.mark.parametrize("k", [1, 2, 5, 10, 40])
def test_mm1k_closed_form(rho, k):
    s = mmck(rho, 1.0, 1, k)
    assert s.blocking == approx(mm1k_block(rho, k), rel=1e-9)
    assert s.mean_in_system == approx(mm1k_l(rho, k), rel=1e-9)
    assert s.throughput == approx(rho * (1 - mm1k_block(rho, k)), rel=1e-9)
    assert s.stable


def test_mm1k_rho_one_limit():
    for k in (1, 3, 100, 5000):
        assert mmck(2.0, 0.5, 1, k).blocking == approx(1 / (k + 1), rel=1e-9)


# ---------------------------------------------------------------- Erlang B/C


@pytest.mark.parametrize(
    "c,a,expected",
    [
        (1, 1.0, 0.5),
        (2, 1.0, 0.2),
        (5, 3.0, 0.110054),
        (10, 5.0, 0.018385),
        (10, 10.0, 0.214582),
        (1, 0.0, 0.0),
    ],
)
def test_erlang_b_textbook(c, a, expected):
    assert erlang_b(c, a) == approx(expected, abs=1e-6)


def test_erlang_b_matches_direct_sum():
    for c in (1, 3, 7, 12):
        for a in (0.3, 2.0, 9.5):
            terms = [a**k / math.factorial(k) for k in range(c + 1)]
            assert erlang_b(c, a) == approx(terms[-1] / sum(terms), rel=1e-12)


def test_erlang_b_large_c_no_overflow():
    b = erlang_b(256, 250.0)
    assert 0 < b < 1
    assert erlang_b(256, 1e6) == approx(1 - 256 / 1e6, rel=1e-3)


def test_erlang_c_known():
    assert erlang_c(2, 1.0) == approx(1 / 3)
    assert erlang_c(1, 0.5) == approx(0.5)  # M/M/1: P(wait) = ρ
    assert erlang_c(3, 3.0) == 1.0
    assert erlang_c(3, 5.0) == 1.0
    c = erlang_c(256, 250.0)
    assert 0 < c < 1


def test_mm2_known():
    s = mmc(1.0, 1.0, 2)
    assert s.mean_in_queue == approx(1 / 3)
    assert s.mean_latency == approx(4 / 3)
    assert s.mean_in_system == approx(4 / 3)


# ----------------------------------------------------------------- M/M/c/K


@pytest.mark.parametrize("c,a", [(1, 0.5), (4, 2.0), (10, 5.0), (32, 40.0), (256, 250.0)])
def test_mmck_k_equals_c_is_erlang_b(c, a):
    s = mmck(a, 1.0, c, c)
    assert s.blocking == approx(erlang_b(c, a), rel=1e-9)
    assert s.mean_in_queue == 0.0
    assert s.mean_wait == 0.0
    assert s.mean_latency == approx(1.0, rel=1e-9)  # W = service time


@pytest.mark.parametrize("lam,st_,c", [(0.5, 1.0, 1), (2.0, 1.0, 3), (9.0, 0.1, 1), (200.0, 1.0, 256)])
def test_mmck_huge_k_approaches_mmc(lam, st_, c):
    inf_q = mmc(lam, st_, c)
    fin_q = mmck(lam, st_, c, c + 20000)
    assert fin_q.blocking < 1e-12
    assert fin_q.mean_in_system == approx(inf_q.mean_in_system, rel=1e-8)
    assert fin_q.mean_in_queue == approx(inf_q.mean_in_queue, rel=1e-6, abs=1e-12)
    assert fin_q.mean_latency == approx(inf_q.mean_latency, rel=1e-8)
    assert fin_q.mean_wait == approx(inf_q.mean_wait, rel=1e-6, abs=1e-12)


def test_mmck_overload_is_finite():
    c, mu = 4, 2.0
    s = mmck(3 * c * mu, 1 / mu, c, 50)  # ρ = 3
    assert s.stable
    assert all(math.isfinite(v) for v in (s.mean_in_system, s.mean_latency, s.blocking))
    assert s.throughput == approx(c * mu, rel=1e-9)
    assert s.blocking == approx(2 / 3, rel=1e-9)
    assert s.utilization == approx(1.0, rel=1e-9)
    # nearly always full: L close to K
    assert 48 < s.mean_in_system <= 50


@pytest.mark.parametrize("rho", [0.5, 0.99, 1.0, 1.01, 3.0, 100.0])
def test_mmck_c256_k20000_no_overflow(rho):
    c, k = 256, 20000
    s = mmck(rho * c, 1.0, c, k)
    fields = (s.blocking, s.throughput, s.utilization, s.mean_in_system,
              s.mean_in_queue, s.mean_latency, s.mean_wait)
    assert all(math.isfinite(v) and v >= 0 for v in fields)
    assert 0 <= s.blocking <= 1
    assert s.utilization <= 1 + 1e-12
    assert c <= s.mean_in_system or rho < 1
    assert s.mean_in_system <= k
    json.dumps(s.to_json(), allow_nan=False)


def test_mmck_rejects_bad_input():
    with pytest.raises(ValueError):
        mmck(1.0, 1.0, 4, 3)  # K < c
    with pytest.raises(ValueError):
        mmck(1.0, 0.0, 1, 3)
    with pytest.raises(ValueError):
        mmck(-1.0, 1.0, 1, 3)
    with pytest.raises(ValueError):
        mmc(1.0, 1.0, 0)


def test_to_json_roundtrip():
    s = mmck(3.0, 0.5, 2, 6)
    data = s.to_json()
    assert isinstance(s, QueueStats)
    assert data["servers"] == 2 and data["capacity"] == 6
    assert data["rho"] == approx(0.75)
    assert json.loads(json.dumps(data))["mean_latency"] == approx(s.mean_latency)


# ---------------------------------------------------------------- Little


def test_littles_law_helpers():
    assert littles_law(2.0, 3.0) == 6.0
    assert littles_law(0.0, math.inf) == 0.0
    assert littles_law_gap(6.0, 2.0, 3.0) == 0.0
    assert littles_law_gap(6.6, 2.0, 3.0) == approx(0.1 / 1.1)
    assert littles_law_gap(0.0, 0.0, 1.0) == 0.0
    assert littles_law_gap(math.inf, 1.0, 2.0) == math.inf


@settings(max_examples=200, deadline=None)
@given(
    lam=st.floats(min_value=1e-3, max_value=1e3),
    service_time=st.floats(min_value=1e-3, max_value=1e2),
    c=st.integers(min_value=1, max_value=64),
    extra=st.integers(min_value=0, max_value=500),
)
def test_littles_law_and_busy_servers_mmck(lam, service_time, c, extra):
    s = mmck(lam, service_time, c, c + extra)
    assert s.stable
    assert 0.0 <= s.blocking <= 1.0
    assert s.utilization <= 1.0 + 1e-9
    assert littles_law_gap(s.mean_in_system, s.throughput, s.mean_latency) < 1e-9
    assert littles_law_gap(s.mean_in_queue, s.throughput, s.mean_wait) < 1e-9
    # mean busy servers L − Lq equals throughput × service time (nontrivial check)
    busy = s.mean_in_system - s.mean_in_queue
    assert busy == approx(s.throughput * service_time, rel=1e-7, abs=1e-9)
    assert s.mean_latency == approx(s.mean_wait + service_time, rel=1e-7)


@settings(max_examples=200, deadline=None)
@given(
    rho=st.floats(min_value=0.0, max_value=0.999),
    service_time=st.floats(min_value=1e-3, max_value=1e2),
    c=st.integers(min_value=1, max_value=256),
)
def test_littles_law_mmc(rho, service_time, c):
    lam = rho * c / service_time
    s = mmc(lam, service_time, c)
    assert s.stable
    assert littles_law_gap(s.mean_in_system, s.throughput, s.mean_latency) < 1e-9
    assert s.mean_latency == approx(s.mean_wait + service_time, rel=1e-9)
    assert s.mean_in_system - s.mean_in_queue == approx(lam * service_time, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------- for_scenario


def scenario(**kw) -> SimpleNamespace:
    base = dict(
        rate=3.0,
        service_time=0.5,
        workers=2,
        limit=0,
        queue=0,
        policy="reject",
        arrivals="poisson",
        service_dist="exponential",
        capacity=0,
        producer="open",
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_for_scenario_unbounded_is_mmc():
    s = for_scenario(scenario())
    assert s == mmc(3.0, 0.5, 2)
    assert s.capacity is None
    # unbounded queue: policy doesn't matter
    assert for_scenario(scenario(policy="block")) == s


def test_for_scenario_reject_is_mmck():
    s = for_scenario(scenario(queue=5))
    assert s == mmck(3.0, 0.5, 2, 7)
    assert s.capacity == 7


def test_for_scenario_limit_rules():
    assert for_scenario(scenario(limit=2)) == mmc(3.0, 0.5, 2)
    assert for_scenario(scenario(limit=8, queue=3)) == mmck(3.0, 0.5, 2, 5)
    assert for_scenario(scenario(limit=1)) is None
    assert for_scenario(scenario(workers=4, limit=3, queue=2)) is None


@pytest.mark.parametrize(
    "kw",
    [
        dict(arrivals="uniform"),
        dict(arrivals="burst"),
        dict(service_dist="constant"),
        dict(service_dist="lognormal"),
        dict(producer="closed"),
        dict(capacity=5),
        dict(queue=4, policy="block"),
        dict(queue=4, policy="timeout"),
        dict(queue=4, policy="drop-oldest"),
    ],
)
def test_for_scenario_not_applicable(kw):
    assert for_scenario(scenario(**kw)) is None


def test_for_scenario_unstable_unbounded():
    s = for_scenario(scenario(rate=10.0))
    assert s is not None and not s.stable
    assert math.isinf(s.mean_latency)


def test_for_scenario_missing_attribute():
    assert for_scenario(SimpleNamespace(rate=1.0)) is None


@settings(max_examples=150, deadline=None)
@given(
    a=st.floats(min_value=0.01, max_value=30.0),
    c=st.integers(min_value=1, max_value=12),
    extra=st.integers(min_value=0, max_value=30),
)
def test_mmck_matches_naive_distribution(a, c, extra):
    k = c + extra
    w = [a**n / math.factorial(n) if n <= c else a**c / math.factorial(c) * (a / c) ** (n - c)
         for n in range(k + 1)]
    z = sum(w)
    p = [x / z for x in w]
    s = mmck(a, 1.0, c, k)
    assert s.blocking == approx(p[k], rel=1e-9)
    assert s.mean_in_system == approx(sum(n * q for n, q in enumerate(p)), rel=1e-9)
    assert s.mean_in_queue == approx(sum((n - c) * q for n, q in enumerate(p) if n > c), rel=1e-9, abs=1e-15)


def test_mmck_extreme_overload_precise():
    s = mmck(100.0, 1.0, 1, 20000)  # M/M/1/K, ρ = 100
    assert s.blocking == approx(0.99, rel=1e-12)
    assert s.throughput == approx(1.0, rel=1e-12)
    assert s.mean_in_system == approx(20000 - 1 / 99, rel=1e-12)  # K − r/(1−r), r = 1/ρ
