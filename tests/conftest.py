"""Shared fixtures: factories for an in-process app client and for a real server process."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from server_helpers import Server
from starlette.testclient import TestClient

from playground.web.app import create_app
from playground.web.settings import Settings

# CI explores the same examples on every run (HYPOTHESIS_PROFILE=ci, set by .ci/run), so a
# landing never depends on luck; run without it locally to explore new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


@pytest.fixture
def make_client():
    """``make_client(**settings)``: a TestClient (lifespan running) for a fresh app."""
    clients = []

    def make(raise_server_exceptions: bool = True, **settings) -> TestClient:
        # Bodies are JSON: the app refuses any other Content-Type (415), which a
        # raw ``content=`` post would otherwise lack.
        client = TestClient(create_app(Settings(**settings)),
                            raise_server_exceptions=raise_server_exceptions,
                            headers={"Content-Type": "application/json"})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def make_server():
    """``make_server(**env)``: a real server with ``PLAYGROUND_<NAME>=value`` for each keyword.

    Terminated after the test; its log must show no traceback and no ERROR line.
    """
    servers = []

    def make(**env) -> Server:
        server = Server(env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        if getattr(server, "log_checked", False):
            continue
        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, f"server log:\n{log}"
