"""Past the handbook (issue 24): queue orders and CoDel, each claim checked at seeds 1-5 on the
engine's own figures (the README's section says the same with the CLI's numbers)."""

from __future__ import annotations

import math

import pytest

from playground.model.scenario import Scenario, ScenarioError
from playground.sim import trace
from playground.sim.codel import CoDel
from playground.sim.engine import Engine

# Four workers of 0.1 s calls serve 40 items/s; 80 arrive: twice what it can do, into an unbounded queue.
OVERLOAD = "rate=80&workers=4&limit=4&service_time=0.1&queue=0"
SEEDS = range(1, 6)


def summary(link: str, until: float = 60) -> dict:
    engine = Engine(Scenario.from_link(link))
    engine.run(until)
    return engine.summary()


def events(link: str, until: float) -> list[str]:
    engine = Engine(Scenario.from_link(link), event_cap=None)
    engine.run(until)
    return [trace.line(event) for event in engine.read_events()]


@pytest.mark.parametrize("seed", SEEDS)
def test_under_twice_its_capacity_codel_keeps_the_wait_short_where_fifo_grows_without_bound(seed):
    fifo = summary(f"{OVERLOAD}&seed={seed}")
    codel = summary(f"{OVERLOAD}&codel=on&seed={seed}")
    assert fifo["latency_p99"] > 25 and fifo["in_system"] > 2000  # a minute in, and growing
    assert codel["latency_p99"] < 1 and codel["in_system"] < 50
    # What it sheds is the excess, not the goodput: it completes about as much as FIFO.
    assert codel["completed"] > 0.9 * fifo["completed"]
    assert codel["dropped"] > 0.4 * codel["arrived"]


@pytest.mark.parametrize("seed", SEEDS)
def test_lifo_serves_the_newest_fast_and_leaves_the_oldest_waiting(seed):
    lifo = summary(f"{OVERLOAD}&discipline=lifo&seed={seed}")
    assert lifo["latency_p50"] < 0.15  # what is served hardly waited...
    assert lifo["in_system"] > 2000  # ...while the rest piles up behind it


@pytest.mark.parametrize("seed", SEEDS)
def test_codel_leaves_a_queue_that_keeps_emptying_alone(seed):
    light = summary(f"{OVERLOAD.replace('rate=80', 'rate=12')}&codel=on&seed={seed}")
    assert light["dropped"] < 0.01 * light["arrived"]


@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_lifo_is_fifo_until_a_queue_stands(seed):
    link = f"{OVERLOAD.replace('rate=80', 'rate=20')}&seed={seed}"
    assert events(f"{link}&discipline=adaptive-lifo&codel_interval=1", 60) == events(link, 60)
    # Under overload the queue stands and it serves the newest: the same run as LIFO's, nearly.
    adaptive = summary(f"{OVERLOAD}&discipline=adaptive-lifo&seed={seed}")
    assert adaptive["latency_p50"] < 0.15 and adaptive["in_system"] > 2000


def test_codel_drops_at_intervals_shrinking_as_one_over_the_square_root_of_the_count():
    """RFC 8289's control law, item by item: a queue whose every item waited 50 ms, taken every
    millisecond. The first drop comes an interval after the delay first stood above the target;
    each next one interval / sqrt(drops) after the one before (to the next take)."""
    codel = CoDel(target=0.005, interval=0.1)
    drops = [t / 1000 for t in range(2000) if codel.drop(0.05, t / 1000, left=10)]
    assert drops[0] == pytest.approx(0.1)
    for count, (before, after) in enumerate(zip(drops, drops[1:]), start=1):
        assert after - before == pytest.approx(0.1 / math.sqrt(count), abs=0.0011), count


def test_codel_stops_dropping_once_an_item_waited_less_than_the_target():
    codel = CoDel(target=0.005, interval=0.1)
    assert [t for t in range(200) if codel.drop(0.05, t / 1000, left=10)] == [100]
    assert not codel.drop(0.001, 0.2, left=10)
    assert not codel.dropping and codel.first_above == 0.0


def test_drop_oldest_needs_a_fifo_queue():
    with pytest.raises(ScenarioError, match="policy=drop-oldest needs discipline=fifo") as refused:
        Scenario.from_link("policy=drop-oldest&discipline=lifo")
    assert refused.value.field == "discipline"


def test_switching_to_drop_oldest_on_a_lifo_queue_is_refused_as_the_policy():
    engine = Engine(Scenario.from_link("discipline=lifo&rate=40"))
    engine.run(1)
    with pytest.raises(ScenarioError, match="policy=drop-oldest needs discipline=fifo") as refused:
        engine.apply({"set": {"policy": "drop-oldest"}})
    assert refused.value.field == "policy" and engine.scenario.policy == "block"
