"""How the server listens (playground/serving.py), against a real process: slow clients
are cut off, a client that stops reading is let go, and client addresses cannot be spoofed."""

from __future__ import annotations

import socket
import time

import httpx

from server_helpers import StreamReader


def _slow_header_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    return sock


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed it (a read returns EOF or the send fails)."""
    try:
        sock.sendall(b"X-Slow: 1\r\n")
        sock.settimeout(0.01)
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_clients_that_send_headers_slowly_are_cut_off(make_server):
    server = make_server(header_timeout=2)
    slow = [_slow_header_client(server.port) for _ in range(50)]
    started = time.monotonic()
    open_ = list(slow)
    worst_health = 0.0
    while open_ and time.monotonic() - started < 8:
        asked = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        worst_health = max(worst_health, time.monotonic() - asked)
        open_ = [sock for sock in open_ if not _closed(sock)]
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    for sock in slow:
        sock.close()
    print(f"50 slow-header clients closed after {elapsed:.1f} s; /healthz worst {worst_health * 1000:.0f} ms")
    assert not open_ and elapsed < 4.5
    assert worst_health < 0.5


def test_the_header_deadline_spares_complete_requests_and_long_streams(make_server):
    server = make_server(header_timeout=1)
    session = server.create(queue=5)
    reader = StreamReader(session["stream_url"])
    reader.wait_started()
    # A request whose headers arrive in pieces within the deadline is served.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.4)
        sock.sendall(b"Host: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    time.sleep(2.5)  # well past the deadline: the stream goes on
    assert reader.error is None and reader.closed_at is None
    assert len(reader.frames(since=time.monotonic() - 1)) >= 10
    reader.close()


def test_a_client_that_stops_reading_its_stream_is_let_go(make_server):
    server = make_server()
    session = server.create({"link": "preset=webhook-ingestion"})
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {session['stream']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    started = time.monotonic()
    while server.healthz()["streams"] != 1:
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    while server.healthz()["streams"] and time.monotonic() - started < 40:
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    sock.close()
    print(f"a stream nobody reads was ended after {elapsed:.1f} s")
    assert server.healthz()["streams"] == 0 and elapsed < 20


def test_x_forwarded_for_is_not_trusted_by_default(make_server):
    server = make_server(max_sessions_per_client=2)
    codes = [httpx.post(server.url + "/api/sessions", json={}, timeout=5,
                        headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(3)]
    assert codes == [201, 201, 503]


def test_a_named_proxy_is_trusted(make_server):
    server = make_server(max_sessions_per_client=2, forwarded_allow_ips="127.0.0.1")
    codes = [httpx.post(server.url + "/api/sessions", json={}, timeout=5,
                        headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(3)]
    assert codes == [201, 201, 201]
