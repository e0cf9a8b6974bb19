"""The join address phones open, and the addresses the server prints: never 0.0.0.0, never a
loopback address for phones without a sentence saying how to fix it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import httpx
import segno
from server_helpers import ROOT, free_port

from playground.web import addresses


def fake_interfaces(monkeypatch, interfaces: dict[str, list[str]], down=()):
    address = lambda ip: SimpleNamespace(family=SimpleNamespace(name="AF_INET"), address=ip)  # noqa: E731
    monkeypatch.setattr(addresses.psutil, "net_if_addrs",
                        lambda: {name: [address(ip) for ip in ips] for name, ips in interfaces.items()})
    monkeypatch.setattr(addresses.psutil, "net_if_stats",
                        lambda: {name: SimpleNamespace(isup=name not in down) for name in interfaces})


def test_network_addresses_prefer_the_lan_and_skip_loopback_bridges_and_down_interfaces(monkeypatch):
    fake_interfaces(monkeypatch, {"lo": ["127.0.0.1"], "docker0": ["172.17.0.1"], "eth1": ["203.0.113.7"],
                                  "wlan0": ["192.168.1.20"], "eth9": ["10.9.9.9"], "ll": ["169.254.3.3"]},
                    down={"eth9"})
    assert addresses.network_addresses() == ["192.168.1.20", "203.0.113.7"]


def test_printed_addresses_are_ones_a_browser_can_open(monkeypatch):
    fake_interfaces(monkeypatch, {"lo": ["127.0.0.1"], "wlan0": ["192.168.1.20"]})
    assert addresses.openable_urls("0.0.0.0", 8000) == ["http://127.0.0.1:8000", "http://192.168.1.20:8000"]
    assert addresses.openable_urls("", 8000)[0] == "http://127.0.0.1:8000"
    assert addresses.openable_urls("127.0.0.1", 8000) == ["http://127.0.0.1:8000"]
    assert addresses.openable_urls("::1", 80) == ["http://[::1]"]


def test_the_join_address_is_one_a_phone_can_open_or_a_sentence_says_why_not(monkeypatch):
    fake_interfaces(monkeypatch, {"lo": ["127.0.0.1"], "wlan0": ["192.168.1.20"], "eth0": ["10.0.0.5"]})
    # The teacher on this machine, the server on every interface: the LAN address, others listed.
    base, note, others = addresses.join_base("0.0.0.0", "127.0.0.1", 8000, "http", 8000)
    assert (base, note, others) == ("http://10.0.0.5:8000", None, ["http://192.168.1.20:8000"])
    # The teacher already on a network address or a name (a proxy): that one.
    assert addresses.join_base("0.0.0.0", "192.168.1.20", 8000, "http", 8000)[:2] == ("http://192.168.1.20:8000", None)
    assert addresses.join_base("127.0.0.1", "class.example.org", None, "https", 8000)[:2] == (
        "https://class.example.org", None)
    # Loopback only: no phone can join, and the sentence says the command to run instead.
    base, note, _ = addresses.join_base("127.0.0.1", "127.0.0.1", 8000, "http", 8000)
    assert base == "http://127.0.0.1:8000" and "backpressure-playground present" in note
    assert "--host 0.0.0.0" in note
    # No network at all.
    fake_interfaces(monkeypatch, {"lo": ["127.0.0.1"]})
    assert "no network address" in addresses.join_base("0.0.0.0", "localhost", 8000, "http", 8000)[1]


def test_a_room_on_a_networked_server_joins_at_its_network_address_and_its_qr_says_the_same(make_server):
    server = make_server(host="0.0.0.0")
    room = httpx.post(server.url + "/api/rooms", json={"link": "v=1"}, timeout=5).json()
    url = room["join_url"]
    host = re.match(r"http://([^:/]+):(\d+)/r/([A-Z0-9]{6})$", url)
    assert host and host.group(3) == room["code"] and int(host.group(2)) == server.port, url
    assert not addresses.is_loopback(host.group(1)) and host.group(1) != "0.0.0.0", url
    assert room["join_note"] is None
    svg = httpx.get(server.url + room["qr"], timeout=5).text
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False,
                                    title=f"Join code {room['code']}: {url}")
    assert svg == buffer.getvalue().decode()  # the QR encodes exactly the address shown
    assert room["session"]["frame"]["room"]["join_url"] == url  # and every frame's room block says it


def test_a_loopback_server_says_phones_cannot_join_and_how_to_fix_it(make_server):
    server = make_server()
    room = httpx.post(server.url + "/api/rooms", json={"link": "v=1"}, timeout=5).json()
    assert room["join_url"] == f"{server.url}/r/{room['code']}"
    assert "Phones cannot open 127.0.0.1" in room["join_note"] and "backpressure-playground present" in room["join_note"]


def test_present_listens_on_the_network_and_prints_addresses_a_browser_can_open():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "playground", "present", "--no-browser", "--port", str(port)],
                               cwd=ROOT, env={**os.environ, "PLAYGROUND_STATE": "none"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
    finally:
        process.terminate()
        process.wait(10)
    assert first.strip() == (f"Backpressure Playground: on the projector, open "
                             f"http://127.0.0.1:{port}/present?lesson=handbook-in-fifteen-minutes")
    assert "0.0.0.0" not in first + second
    network = addresses.network_addresses()
    if network:
        assert second.strip().startswith(f"Phones join at http://{network[0]}:{port}/r/CODE"), second
    else:
        assert second.startswith("No phone can reach this server"), second
