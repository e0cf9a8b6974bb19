"""Addresses a person can open: the join address phones use, and what the server prints.

A server listening on ``0.0.0.0`` is reached at this machine's network addresses, never at
``0.0.0.0`` itself; one listening on ``127.0.0.1`` cannot be reached from a phone at all. The
network addresses are read from the machine's interfaces (psutil): nothing is sent anywhere.
"""

from __future__ import annotations

import ipaddress

import psutil

#: Interface name prefixes of virtual bridges and tunnels a phone on the room's Wi-Fi cannot reach.
VIRTUAL = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "utun", "tun", "tap", "zt", "tailscale")
WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def network_addresses() -> list[str]:
    """This machine's IPv4 addresses on interfaces that are up, best first: private LAN
    addresses (what a classroom's Wi-Fi gives) before others; no loopback, no virtual bridges."""
    stats = psutil.net_if_stats()
    found = []
    for name, addresses in psutil.net_if_addrs().items():
        if not stats.get(name) or not stats[name].isup or name.startswith(VIRTUAL):
            continue
        for address in addresses:
            if address.family.name != "AF_INET":
                continue
            ip = ipaddress.ip_address(address.address)
            if ip.is_loopback or ip.is_link_local:
                continue
            found.append((0 if ip.is_private else 1, address.address))
    return [address for _, address in sorted(found)]


def _url(host: str, port: int, scheme: str = "http") -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def openable_urls(listen_host: str, port: int) -> list[str]:
    """What to print for a server listening on ``listen_host``: addresses a browser can open
    (for a wildcard, this machine's own and its network addresses; never ``0.0.0.0``)."""
    if listen_host in WILDCARDS:
        return [_url("127.0.0.1", port)] + [_url(address, port) for address in network_addresses()]
    return [_url(listen_host, port)]


def join_base(listen_host: str, request_host: str, request_port: int | None, scheme: str,
              port: int) -> tuple[str, str | None, list[str]]:
    """The origin phones should open, one sentence when they cannot, and the other candidates.

    The teacher's own address is the best answer when phones can reach it (a LAN address or a
    name, e.g. behind a proxy). When the teacher is on this machine's loopback, a server listening
    on every interface is reached at its network address; one listening on loopback only is
    reached by no phone, and the sentence says how to restart it."""
    if not is_loopback(request_host):
        return _url(request_host, request_port or {"http": 80, "https": 443}.get(scheme, port), scheme), None, []
    if is_loopback(listen_host):
        note = (f"Phones cannot open {request_host}: this server listens only on this computer "
                f"({listen_host}). To let phones on this network join, restart it with "
                f"`backpressure-playground present` (or add --host 0.0.0.0).")
        return _url(request_host, request_port or port, scheme), note, []
    candidates = (network_addresses() if listen_host in WILDCARDS else [listen_host.strip("[]")])
    if not candidates:
        note = ("This computer has no network address phones could reach (no Wi-Fi or wired "
                "network is up); connect it to the classroom's network, then present again.")
        return _url(request_host, request_port or port, scheme), note, []
    urls = [_url(address, port, scheme) for address in candidates]
    return urls[0], None, urls[1:]
