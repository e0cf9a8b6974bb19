"""Backpressure Playground: watch an async service take load.

The package is in layers; each imports only the ones before it in this list (a test walks the
import graph, tests/test_layers.py):

- ``model``: the scenario and its link vocabulary, presets, comparisons, queueing theory.
- ``sim``: the engine, the asyncio program run on a virtual clock (pure: no I/O, no wall clock).
- ``program``: the asyncio program a scenario stands for, as text, and the ideal clock that runs it.
- ``teach``: lessons as claims checked on headless runs, courses, the explanations beside the data.
- ``web``: the Starlette app and everything that serves it.

``cli`` and ``__main__`` are the two ways in, on top of them all.
"""
