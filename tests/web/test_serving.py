"""How the server listens (playground/serving.py): slow or oversized request headers are cut
off, a client that stops reading is let go, client addresses cannot be spoofed. Mostly against
a real process; the socket options and the h11 fallback are checked in-process."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from server_helpers import StreamReader, free_port

from playground.cli import main
from playground.web import serving
from playground.web.settings import Settings


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _closed_by_server(sock: socket.socket) -> bool:
    """Send one more header line; True once the server has closed the connection."""
    try:
        sock.sendall(b"X-Slow: 1\r\n")
        sock.settimeout(0.01)
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def _response(sock: socket.socket) -> bytes:
    """One whole response (Content-Length framed) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _cut_off_times(sockets: list[socket.socket], limit: float, on_tick=None) -> list[float]:
    """Trickle a header line about twice a second into each socket until the server
    closes it; the seconds each took."""
    started = time.monotonic()
    times = {}
    while len(times) < len(sockets) and time.monotonic() - started < limit:
        if on_tick:
            on_tick()
        for sock in sockets:
            if sock not in times and _closed_by_server(sock):
                times[sock] = time.monotonic() - started
        time.sleep(0.5)
    for sock in sockets:
        sock.close()
    assert len(times) == len(sockets), f"{len(sockets) - len(times)} still open after {limit} s"
    return list(times.values())


# The header deadline -------------------------------------------------------------------


def test_clients_that_send_headers_slowly_are_cut_off(make_server):
    server = make_server(header_timeout=2)
    slow = []
    for n in range(50):
        sock = _connect(server.port)
        if n % 2:  # a kept-alive connection: one whole request, then the next one trickles in
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    health = []

    def ask():
        asked = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        health.append(time.monotonic() - asked)

    times = _cut_off_times(slow, limit=8, on_tick=ask)
    print(f"\n50 slow-header clients (header_timeout 2 s) cut off after {min(times):.1f}–{max(times):.1f} s; "
          f"/healthz meanwhile took at most {max(health) * 1000:.0f} ms")
    assert max(times) < 4.5
    assert max(health) < 1.0  # (a busy test machine; alone it is tens of ms)


def test_the_header_deadline_spares_complete_requests_and_long_streams(make_server):
    server = make_server(header_timeout=1)
    session = server.create({"link": "preset=handbook"})
    reader = StreamReader(session["stream_url"])
    reader.wait_started()
    with _connect(server.port) as sock:
        # Headers that arrive in pieces, within the deadline, then a body that takes longer
        # than the header deadline (the body has its own, longer one).
        sock.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.4)
        sock.sendall(b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{")
        time.sleep(1.5)
        sock.sendall(b"}")
        assert _response(sock).startswith(b"HTTP/1.1 201")
        # Kept alive: idle a while, then a next request whose headers take a while too. The
        # deadline runs from that request's first byte, not from the previous response.
        time.sleep(0.7)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.6)
        sock.sendall(b"Host: x\r\n\r\n")
        assert _response(sock).startswith(b"HTTP/1.1 200")
    time.sleep(1.0)  # the stream has been open for more than 3 deadlines
    assert reader.error is None and reader.closed_at is None
    assert len(reader.frames(since=time.monotonic() - 1)) >= 10
    reader.close()


def test_oversized_headers_are_refused_before_they_fill_memory(make_server):
    server = make_server()
    rss = server.rss_kb()
    with _connect(server.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(OSError):  # the server closes it while we still send
            while sent < 100_000_000:
                sock.sendall(b"a" * 100_000)
                sent += 100_000
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    print(f"\nstopped after {sent} bytes of one header; RSS {rss} -> {server.rss_kb()} kB")
    assert sent < 10_000_000  # before: 2.3 GB in 8 s, all kept by the server
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert server.rss_kb() - rss < 20_000
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


# Small send buffers --------------------------------------------------------------------


def _tx_queue(server_port: int, client_port: int) -> int:
    """Bytes queued in the server's kernel send buffer for one connection (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(fields[4].split(":")[0], 16)
    raise AssertionError("no such connection")


def test_a_client_that_stops_reading_its_stream_is_let_go(make_server):
    settings = Settings()
    server = make_server()
    streams = []
    for preset in ("handbook", "webhook-ingestion"):  # about 13 and 30 kB of frames a second
        session = server.create({"link": f"preset={preset}"})
        sock = _connect(server.port)
        # A client whose own buffers are full. (Left alone, the client's kernel keeps growing
        # its receive buffer though nobody reads it, up to tcp_rmem's maximum: the client's
        # memory, not the server's, whose share stays at about its send buffer.)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(f"GET {session['stream']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        streams.append(sock)
    started = time.monotonic()
    while server.healthz()["streams"] != 2:
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    queued = 0
    ended = []
    while len(ended) < 2 and time.monotonic() - started < 30:
        time.sleep(0.25)
        with contextlib.suppress(AssertionError):  # gone once the server closed it
            queued = max(queued, *(_tx_queue(server.port, sock.getsockname()[1]) for sock in streams))
        while len(ended) < 2 - server.healthz()["streams"]:
            ended.append(time.monotonic() - started)
    for sock in streams:
        sock.close()
    print(f"\nstreams nobody reads were ended after {', '.join(f'{t:.1f}' for t in ended)} s "
          f"(send timeout {settings.send_timeout:g} s); at most {queued} bytes queued in the "
          f"server's kernel buffer for one")
    assert len(ended) == 2 and max(ended) < 20
    # Linux doubles SO_SNDBUF (for its bookkeeping) and lets writes overshoot it some;
    # autotuned, a buffer grows to tcp_wmem's maximum (4 MB here).
    assert queued < 8 * settings.socket_send_buffer
    assert "send timeout" in server.log()


def _pair(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(listener.getsockname()[:2], timeout=5)
    accepted, _ = listener.accept()
    return client, accepted


def _push(sender: socket.socket, receiver: socket.socket, total: int = 4_000_000) -> None:
    done = 0

    def read():
        nonlocal done
        while done < total:
            done += len(receiver.recv(1 << 20))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sender.sendall(b"x" * total)
    reader.join(10)


def test_accepted_sockets_inherit_the_send_buffer_and_do_not_autotune():
    [listener] = serving.listen(Settings(port=0, socket_send_buffer=50_000))
    listener.listen()
    with listener, contextlib.ExitStack() as stack:
        client, accepted = _pair(listener)
        stack.enter_context(client), stack.enter_context(accepted)
        size = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert size == listener.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 100_000  # doubled
        _push(accepted, client)
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == size
    # Without it, the kernel grows a busy connection's buffer (to megabytes, with a slow reader).
    with socket.create_server(("127.0.0.1", 0)) as plain:
        client, accepted = _pair(plain)
        with client, accepted:
            before = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            _push(accepted, client)
            after = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    print(f"\ninherited SO_SNDBUF {size}, kept; a plain accepted socket's: {before} -> {after}")
    assert after > size


def test_listen_takes_ipv6_and_names_a_port_in_use():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        [sock] = serving.listen(Settings(host="::1", port=0))
    except serving.ListenError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    with sock:
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        port = sock.getsockname()[1]
        with pytest.raises(serving.ListenError, match=r"cannot listen on \[::1\]:\d+: Address already in use"):
            sock.listen()
            serving.listen(Settings(host="::1", port=port))


def test_a_port_in_use_is_a_sentence_and_exit_2(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"backpressure-playground: error: cannot listen on 127.0.0.1:{port}: " \
                           "Address already in use.\n"


# Client addresses ----------------------------------------------------------------------


def _create_as(server, addresses) -> list[int]:
    return [httpx.post(server.url + "/api/sessions", json={}, timeout=5,
                       headers={"X-Forwarded-For": address}).status_code for address in addresses]


def test_x_forwarded_for_is_not_trusted_by_default(make_server):
    server = make_server(max_sessions_per_client=2)
    assert _create_as(server, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [201, 201, 503]


def test_a_named_proxy_is_trusted(make_server):
    server = make_server(max_sessions_per_client=2, forwarded_allow_ips="127.0.0.1")
    assert _create_as(server, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"]) == [201, 201, 201, 201]
    assert _create_as(server, ["10.0.0.1"]) == [503]  # each address still has its cap


def test_only_the_named_proxy_is_trusted(make_server):
    server = make_server(max_sessions_per_client=2, forwarded_allow_ips="192.0.2.1")
    assert _create_as(server, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [201, 201, 503]


def test_uvicorn_would_trust_loopback_without_us():
    """Why ``proxy_headers`` is off when no proxy is named: uvicorn reads None as 127.0.0.1."""
    assert uvicorn.Config(lambda: None).forwarded_allow_ips in ("127.0.0.1,::1", "127.0.0.1")
    config = serving.config(lambda: None, Settings())
    assert config.proxy_headers is False
    assert serving.config(lambda: None, Settings(forwarded_allow_ips="127.0.0.1")).proxy_headers


# The h11 fallback, in-process ------------------------------------------------------------


async def _hello(scope, receive, send):
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({"client": scope["client"][0]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _in_process(base, **settings):
    settings = Settings(port=free_port(), **settings)
    config = serving.config(_hello, settings)
    config.http = serving.protocol_class(settings, base)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": serving.listen(settings)}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield settings.port
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.mark.parametrize("base", ["_H11", "_HttpTools"])
def test_both_protocols_keep_the_header_deadline(base):
    base = getattr(serving, base)
    if base is None:
        pytest.skip("httptools is not installed")
    with _in_process(base, header_timeout=1) as port:
        slow = [_connect(port) for _ in range(3)]
        for sock in slow:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert max(_cut_off_times(slow, limit=5)) < 2.5
        with _connect(port) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{")
            time.sleep(1.3)  # a slow body is not the header deadline's business
            sock.sendall(b"}")
            assert _response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.6)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(0.6)
            sock.sendall(b"Host: x\r\n\r\n")
            assert _response(sock).startswith(b"HTTP/1.1 200")
