

def test_a_percentiles_interval_holds_it_and_narrows_with_the_sample():
    import math
    import random

    from playground.sim.metrics import Histogram

    draw = random.Random(7)
    widths = []
    for n in (200, 20_000):  # exact values, then buckets
        histogram = Histogram()
        for _ in range(n):
            histogram.add(draw.expovariate(10))
        lo, hi = histogram.interval(0.99)
        assert lo <= histogram.quantile(0.99) <= hi
        assert lo <= math.log(100) / 10 <= hi  # the true p99 of the draws' distribution
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 3
    assert Histogram().interval(0.5) is None
