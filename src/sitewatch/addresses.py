"""Host addresses and ``[network] allow`` entries, parsed without any network code.

The site config checks its allow-list with ``parse_allow`` when it is read; the network policy
(``crawl/netpolicy.py``) uses the same functions to decide what may be requested.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(host: str) -> IPAddress | None:
    """The address a URL host names literally, in any form the system resolver would accept; else None."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if "%" in h:                        # fe80::1%eth0
        h = h.split("%", 1)[0]
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if ":" in h or not h:
        return None
    try:                                # 0x7f000001, 2130706433, 0177.0.0.1, 127.1 (inet_aton's forms)
        return ipaddress.IPv4Address(socket.inet_aton(h))
    except (OSError, ValueError):
        return None


def parse_allow(allow: Iterable[str]) -> tuple[list[Any], set[str]]:
    """``[network] allow`` entries: networks / addresses, and host names (``.example.gov.cn`` or
    ``*.example.gov.cn`` also allows its subdomains). Raises ValueError for an entry that is neither."""
    nets: list[Any] = []
    hosts: set[str] = set()
    for entry in allow:
        e = str(entry).strip().lower()
        if not e:
            raise ValueError("empty entry")
        try:
            nets.append(ipaddress.ip_network(e.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        ip = parse_ip(e)
        if ip is not None:
            nets.append(ipaddress.ip_network(ip))
            continue
        if e.startswith("*."):
            e = e[1:]
        name = e.lstrip(".")
        if not name or any(c in name for c in "/:@ \t") or ".." in name:
            raise ValueError(f"{entry!r}: neither a network, an address nor a host name")
        hosts.add(e)
    return nets, hosts
