"""How the web server listens: uvicorn, with what its defaults leave open.

- **Header deadline (slowloris).** uvicorn waits for request headers forever; a
  client sending one header line a second holds a connection for as long as it
  likes. The protocol classes here close a connection whose request headers are
  not complete ``header_timeout`` seconds after it opened (on keep-alive: after
  the next request's first bytes; an idle kept-alive connection is closed by
  uvicorn's own ``timeout_keep_alive``). Bodies have their own deadline in the app.
- **Header size.** With httptools uvicorn also takes headers of any size: one
  client sending a header value as fast as it can grew the server by 2.3 GB in
  8 s. Headers past ``MAX_HEADER_BYTES`` get 431 and the connection is closed.
- **Small send buffers.** A client that stops reading a frame stream only blocks
  the server's sends once the socket buffers are full, and Linux grows them to
  megabytes; a non-reading stream then lived for minutes. The listening socket
  gets a fixed ``SO_SNDBUF`` (accepted sockets inherit it, and a set size turns
  autotuning off), and a connection buffers little above it in the process, so
  sends block within seconds and the stream's send timeout ends it.
- **Client addresses.** uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by
  default, which let anyone on the host (or any local proxy's clients) spoof an
  address past the per-client caps. Here no proxy is trusted unless named.
"""

from __future__ import annotations

import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from playground.web.settings import Settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn; h11 is always there
    HttpToolsProtocol = None

#: Bytes of request line and headers a request may have (h11's own limit is 16 KiB).
MAX_HEADER_BYTES = 64 * 1024

#: Bytes a connection may queue in the process above its kernel send buffer before
#: a send waits. asyncio's and uvloop's default, 64 KiB, is more than the kernel
#: buffer itself: a frame stream nobody reads took seconds longer to block.
WRITE_BUFFER_HIGH = 16 * 1024

TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
             b"content-length: 30\r\nconnection: close\r\n\r\nrequest headers are too large.")


class ListenError(Exception):
    """The server could not listen; ``str(e)`` is the sentence to print."""


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close the connection if a request's headers
    take longer than ``header_timeout`` seconds, or more than MAX_HEADER_BYTES, to arrive.

    The deadline runs from the connection's start, and on keep-alive from the next
    request's first byte; it stops when the headers are complete (the subclasses say
    when), so neither a slow body nor a long response is cut by it."""

    header_timeout = 10.0
    _header_deadline = None  # the TimerHandle while headers (or a next request) are due
    _header_bytes = None  # bytes of this request's headers so far; None between requests

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self._arm_header_deadline(request=True)

    def connection_lost(self, exc):
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data):
        if self._header_bytes is None and self._request_begins():
            self._arm_header_deadline(request=True)
        super().data_received(data)
        if self._header_bytes is not None:  # the headers are still incomplete
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self.transport.write(TOO_LARGE)
                self.transport.close()

    def on_response_complete(self):
        super().on_response_complete()
        # Kept alive with no request under way (super() may have started a pipelined one):
        # uvicorn's keep-alive timer closes it if it stays idle, but any byte stops that
        # timer; this deadline (restarted when a request begins) closes it if it trickles
        # bytes that never make a request's headers.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_deadline(request=False)

    def _request_begins(self) -> bool:
        """Whether bytes arriving now begin a new request (h11 says so here)."""
        return False

    def _arm_header_deadline(self, request: bool):
        self._disarm_header_deadline()
        self._header_bytes = 0 if request else None
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self):
        self._header_bytes = None
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self):
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class _H11(_HeaderDeadline, H11Protocol):
    def _request_begins(self):
        return self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE

    def handle_events(self):
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a Request event made a new cycle: its headers are complete
            self._disarm_header_deadline()


if HttpToolsProtocol is not None:
    class _HttpTools(_HeaderDeadline, HttpToolsProtocol):
        def on_message_begin(self):
            # The parser has seen a request's first byte (not, say, the rest of a body
            # the app answered without reading): its headers are due from now, unless
            # they have been since the connection opened.
            if self._header_bytes is None:
                self._arm_header_deadline(request=True)
            super().on_message_begin()

        def on_headers_complete(self):
            self._disarm_header_deadline()
            super().on_headers_complete()
else:  # pragma: no cover
    _HttpTools = None


def protocol_class(settings: Settings, base: type | None = None) -> type:
    """uvicorn's fastest available HTTP protocol (or ``base``: _H11, _HttpTools), with
    the header deadline. Passed to uvicorn as ``http=``, a class, not a name."""
    base = base or _HttpTools or _H11
    return type(f"Deadline{base.__bases__[-1].__name__}", (base,), {"header_timeout": settings.header_timeout})


def listen(settings: Settings) -> list[socket.socket]:
    """The server's sockets, bound (not yet listening), with the small send buffer
    their connections inherit. Like asyncio's ``create_server(host, port)``, which
    uvicorn used: one socket per address the host resolves to, IPv6 ones IPv6-only."""
    host = settings.host.strip("[]") or None  # "" (or None): every interface
    try:
        infos = socket.getaddrinfo(host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ListenError(f"cannot listen on {settings.host!r}: {error.strerror}.") from None
    sockets = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):  # getaddrinfo may repeat one
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # Before listen(): accepted sockets are cloned from this one, send buffer included.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer)
            sock.bind(address)
    except OSError as error:
        for sock in sockets:
            sock.close()
        shown = f"[{address[0]}]" if ":" in address[0] else address[0]
        raise ListenError(f"cannot listen on {shown}:{settings.port}: {error.strerror}.") from None
    return sockets


def config(app, settings: Settings) -> uvicorn.Config:
    trusted = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info",
        http=protocol_class(settings),
        timeout_graceful_shutdown=1, access_log=False,
        timeout_keep_alive=5,  # seconds an idle kept-alive connection stays open (uvicorn's default)
        # No limit_concurrency: uvicorn counts open connections, idle or not, and answers
        # 503 to every new request past it, so a flood of connections would lock out real
        # visitors; the header deadline bounds that flood instead, and the app caps
        # sessions and streams. The listen backlog stays uvicorn's 2048.
        #
        # The client address is the TCP peer unless a trusted proxy says otherwise:
        # uvicorn reads forwarded_allow_ips=None as "$FORWARDED_ALLOW_IPS or 127.0.0.1",
        # so "trust none" turns its proxy-headers middleware off altogether.
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
    )


def serve(app, settings: Settings, sockets: list[socket.socket] | None = None) -> None:
    """Serve on ``sockets`` (default: ``listen(settings)``) until Ctrl-C or SIGTERM.
    uvicorn shuts down cleanly on both, then re-raises the signal (KeyboardInterrupt)."""
    if sockets is None:
        sockets = listen(settings)
    _Server(config(app, settings)).run(sockets=sockets)


class _Server(uvicorn.Server):
    """uvicorn's server, which tells the app's frame ticker when it starts shutting down: every
    stream then gets a ``bye`` and completes, before uvicorn's graceful wait (1 s) runs out."""

    def handle_exit(self, sig, frame):
        ticker = getattr(getattr(self.config.app, "state", None), "ticker", None)
        if ticker is not None:
            ticker.stop()
        super().handle_exit(sig, frame)
