"""The governor sheds load only when the process is saturated, and always recovers."""

from __future__ import annotations

from playground.web.governor import Governor


class FakeProcess:
    """A wall clock and a CPU clock the test moves by hand."""

    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0

    def period(self, governor: Governor, *, cpu_share: float, lags: list[float]) -> None:
        for lag in lags:
            governor.sample(lag)
        self.wall += 0.5
        self.cpu += 0.5 * cpu_share
        governor.govern()


def make(base=0.05):
    process = FakeProcess()
    governor = Governor(base, clock=lambda: process.wall, cpu_clock=lambda: process.cpu)
    return process, governor


def test_a_busy_cpu_with_a_lagging_loop_widens_the_interval_up_to_ten_times():
    process, governor = make()
    for _ in range(40):
        process.period(governor, cpu_share=1.0, lags=[0.1] * 25)
    assert governor.interval == 10 * governor.base_interval and governor.overloaded


def test_a_lagging_loop_with_cpu_to_spare_sheds_nothing():
    """Lag from a stall elsewhere (the machine, a burst of writes) is not saturation."""
    process, governor = make()
    for _ in range(40):
        process.period(governor, cpu_share=0.3, lags=[0.2] * 25)
    assert governor.interval == governor.base_interval and not governor.overloaded


def test_a_busy_cpu_with_a_prompt_loop_sheds_nothing():
    process, governor = make()
    for _ in range(40):
        process.period(governor, cpu_share=1.0, lags=[0.002] * 25)
    assert not governor.overloaded


def test_it_recovers_within_five_seconds_when_the_load_goes_even_with_no_samples():
    process, governor = make()
    for _ in range(40):
        process.period(governor, cpu_share=1.0, lags=[0.1] * 25)
    assert governor.overloaded
    periods = 0
    while governor.overloaded:
        process.period(governor, cpu_share=0.0, lags=[])  # nothing open, no probes
        periods += 1
    assert periods * 0.5 <= 5.0
    for _ in range(10):
        process.period(governor, cpu_share=0.0, lags=[])
    assert governor.interval == governor.base_interval
