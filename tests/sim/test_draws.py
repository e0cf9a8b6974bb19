"""The engine's draws are exactly the generated program's draws."""

import random

from playground.sim import draws


def test_poisson_gap_is_expovariate_bit_for_bit():
    ours, theirs = random.Random("arrivals-7"), random.Random("arrivals-7")
    for rate in (0.1, 1, 20, 72.5, 2000):
        for _ in range(2000):
            assert draws.poisson_gap(ours, rate) == theirs.expovariate(rate)


def test_a_calls_luck_is_its_own_uniform_number():
    # Keyed by (seed, item, attempt), not drawn from a stream: the same key, the same number...
    assert draws.luck(7, 12, 0) == draws.luck(7, 12, 0)
    # ...and any other key another one, spread evenly over (0, 1).
    values = [draws.luck(seed, item, attempt) for seed in (1, 2) for item in range(50_000) for attempt in (0, 1)]
    assert len(set(values)) == len(values) and all(0 < v < 1 for v in values)
    assert abs(sum(values) / len(values) - 0.5) < 0.003
    tenths = [0] * 10
    for value in values:
        tenths[int(value * 10)] += 1
    assert max(tenths) / min(tenths) < 1.03
    # Neighbouring items and attempts are not correlated.
    pairs = list(zip(values[0:-2:2], values[2::2]))
    mean = sum(a * b for a, b in pairs) / len(pairs)
    assert abs(mean - 0.25) < 0.003


def test_service_times_have_their_mean_and_shape():
    us = [draws.luck(3, item, 0) for item in range(200_000)]
    assert draws.service_time(us[0], "constant", 0.15) == 0.15
    for dist in ("exponential", "lognormal"):
        samples = [draws.service_time(u, dist, 0.2) for u in us]
        assert abs(sum(samples) / len(samples) - 0.2) / 0.2 < 0.02, dist  # the mean is service_time
        assert max(samples) > 10 * 0.2, dist  # and the tail is long
    # The same luck under a longer mean is a proportionally longer call (common random numbers).
    assert draws.service_time(us[5], "exponential", 0.4) == 2 * draws.service_time(us[5], "exponential", 0.2)


def test_wave_gap_rate_swings_with_the_period():
    rng = random.Random(3)
    now, times = 0.0, []
    while now < 2000:
        now += draws.wave_gap(rng, 10.0, 20.0, now)
        times.append(now)
    rising = sum(1 for t in times if (t % 20) < 10)  # sin > 0 in the first half period
    falling = len(times) - rising
    assert abs(len(times) / 2000 - 10) < 0.5  # mean rate is `rate`
    assert rising > 2.5 * falling  # busy half vs quiet half
