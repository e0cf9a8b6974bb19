"""The web server: the Starlette app and everything that serves it.

``app`` (routes, pages, errors as responses), ``sessions`` (one sandboxed run per tab, under a
work budget), ``side`` and ``frames`` (what one moment of a service looks like on the wire),
``stream`` (the SSE frame streams), ``rooms`` (a class watching one run), ``sweep`` (the curve,
in a worker process), ``export``, ``governor`` (load shedding), ``ratelimit``, ``settings``,
``errors`` and ``serving`` (uvicorn with our timeouts). May import every layer below it.
"""
