"""How the web server listens: uvicorn, with what its defaults leave open.

- **Header deadline (slowloris).** uvicorn waits for request headers forever; a
  client sending one header line a second holds a connection for as long as it
  likes. The protocol classes here close a connection whose request headers are
  not complete ``header_timeout`` seconds after it opened (or after the previous
  response, on keep-alive). Bodies have their own deadline in the app.
- **Small send buffers.** A client that stops reading a frame stream only blocks
  the server's sends once the kernel's socket buffers are full, and Linux grows
  them to megabytes; a non-reading stream then lived for minutes. The listening
  socket gets a fixed ``SO_SNDBUF`` (accepted sockets inherit it, and a set size
  turns autotuning off), so sends block within seconds and the stream's send
  timeout ends it.
- **Client addresses.** uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by
  default, which let anyone on the host (or any local proxy's clients) spoof an
  address past the per-client caps. Here no proxy is trusted unless named.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn; h11 is always there
    HttpToolsProtocol = None


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close the connection if a request's headers
    take longer than ``header_timeout`` seconds to arrive."""

    header_timeout = 10.0
    _header_deadline = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc):
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def on_response_complete(self):
        super().on_response_complete()
        if not self.transport.is_closing():  # keep-alive: the next request's headers are due
            self._arm_header_deadline()

    def _arm_header_deadline(self):
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self):
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self):
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class _H11(_HeaderDeadline, H11Protocol):
    def handle_events(self):
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a Request event arrived: its headers are complete
            self._disarm_header_deadline()


if HttpToolsProtocol is not None:
    class _HttpTools(_HeaderDeadline, HttpToolsProtocol):
        def on_headers_complete(self):
            self._disarm_header_deadline()
            super().on_headers_complete()
else:  # pragma: no cover
    _HttpTools = None


def protocol_class(settings: Settings) -> type:
    """uvicorn's fastest available HTTP protocol, with the header deadline."""
    base = _HttpTools or _H11
    return type(f"Deadline{base.__bases__[-1].__name__}", (base,), {"header_timeout": settings.header_timeout})


def listening_socket(settings: Settings) -> socket.socket:
    """The server's socket, bound, with the small send buffer its connections inherit."""
    host = settings.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer)
    sock.bind((host, settings.port))
    sock.set_inheritable(True)
    return sock


def config(app, settings: Settings) -> uvicorn.Config:
    trusted = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info",
        http=protocol_class(settings),
        timeout_graceful_shutdown=1, access_log=False,
        timeout_keep_alive=5,
        # The client address is the TCP peer unless a trusted proxy says otherwise.
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
    )


def serve(app, settings: Settings) -> None:
    """Listen and serve until Ctrl-C or SIGTERM (uvicorn shuts down cleanly on both)."""
    sock = listening_socket(settings)
    uvicorn.Server(config(app, settings)).run(sockets=[sock])
