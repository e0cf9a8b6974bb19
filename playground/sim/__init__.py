"""The engine: a deterministic, virtual-time model of the asyncio program a scenario stands for.

``kernel`` is a port of asyncio's loop, futures, tasks, queue and semaphore on virtual time;
``engine`` is the scenario's program written on it plus the world around it (``world``: the
downstream, rate limits, retries; ``draws``: the random numbers), ``metrics`` what a run
measures and ``trace`` its event lines. No I/O, no wall clock. Imports only ``model``.
"""
