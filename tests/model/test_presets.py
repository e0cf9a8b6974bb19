"""Tests for playground.model.presets: every preset is a valid scenario that says what to notice."""

import pytest

from playground.model.presets import PRESETS, Preset
from playground.model.scenario import FIELDS, Scenario

REQUIRED = [
    "handbook", "webhook-ingestion", "api-fan-out", "background-jobs",
    "bursty-pipeline", "unbounded-oom", "no-semaphore", "stale-work",
]


def offered_load(s: Scenario) -> float:
    """rate × service_time over the calls that may run at once."""
    return s.rate * s.service_time / min(s.workers, s.limit or s.workers)


def test_required_presets_first_and_in_order():
    assert list(PRESETS)[: len(REQUIRED)] == REQUIRED


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_is_valid_and_round_trips(name):
    preset = PRESETS[name]
    assert isinstance(preset, Preset) and preset.name == name
    assert preset.title.strip()
    assert 2 <= preset.notice.count(". ") + 1 <= 4  # two or three sentences, roughly
    assert set(preset.overrides) <= set(FIELDS)
    s = Scenario.from_preset(name)
    assert s.preset == name
    for key, value in preset.overrides.items():
        assert getattr(s, key) == value
    assert preset.link == f"v=1&preset={name}"
    assert s.to_link() == preset.link
    assert Scenario.from_link(preset.link) == s
    changed = s.replace(seed=7)
    assert Scenario.from_link(changed.to_link()) == changed


def test_handbook_is_exact():
    s = Scenario.from_preset("handbook")
    assert PRESETS["handbook"].overrides == dict(
        producer="closed", producers=1, arrivals="asap", items=6, queue=2, limit=2,
        workers=3, service_time=0.15, service_dist="constant", policy="block",
    )
    assert (s.producer, s.producers, s.arrivals, s.items, s.queue) == ("closed", 1, "asap", 6, 2)
    assert (s.limit, s.workers, s.service_time, s.service_dist, s.policy) == (2, 3, 0.15, "constant", "block")
    assert "handbook" in PRESETS["handbook"].title.lower()


@pytest.mark.parametrize("name", ["webhook-ingestion", "background-jobs", "unbounded-oom", "stale-work"])
def test_overloaded_presets_are_overloaded(name):
    assert 1.2 <= offered_load(Scenario.from_preset(name)) <= 2


@pytest.mark.parametrize("name", ["api-fan-out", "bursty-pipeline", "no-semaphore"])
def test_calm_presets_are_calm(name):
    assert offered_load(Scenario.from_preset(name)) < 1


def test_preset_shapes():
    webhook = Scenario.from_preset("webhook-ingestion")
    assert (webhook.producer, webhook.arrivals, webhook.policy) == ("open", "poisson", "reject")
    assert webhook.queue > 0

    fan_out = Scenario.from_preset("api-fan-out")
    assert 0 < fan_out.capacity == fan_out.limit < fan_out.workers

    jobs = Scenario.from_preset("background-jobs")
    assert (jobs.producer, jobs.arrivals, jobs.policy) == ("closed", "steady", "block") and jobs.queue > 0

    bursty = Scenario.from_preset("bursty-pipeline")
    assert bursty.arrivals == "bursts" and bursty.queue >= bursty.burst
    # Between bursts the workers drain a whole burst.
    drain_rate = min(bursty.workers, bursty.limit) / bursty.service_time - bursty.rate
    assert bursty.burst / drain_rate < bursty.period

    oom = Scenario.from_preset("unbounded-oom")
    assert oom.queue == 0 and oom.memory > 0
    growth = oom.rate - min(oom.workers, oom.limit) / oom.service_time  # items held per second
    assert 20 <= oom.memory / growth <= 30

    no_sem = Scenario.from_preset("no-semaphore")
    assert no_sem.limit == 0 and no_sem.workers >= 16 and 0 < no_sem.capacity <= 8
    # With a semaphore at the downstream's capacity the same load would be fine.
    assert no_sem.rate * no_sem.service_time < no_sem.capacity

    stale = Scenario.from_preset("stale-work")
    assert stale.max_age > 0
    throughput = min(stale.workers, stale.limit) / stale.service_time
    assert stale.queue / throughput > stale.max_age  # a full queue holds items past max_age
