"""Network policy: which addresses the product may send requests to (no SSRF from a public page).

Links on a public site are written by its editors and, on 留言/信箱 boards, by citizens. Inside an office network a
crawler that follows them could be made to call internal addresses. So addresses of these classes are not
requested: loopback, private (RFC 1918, ULA fc00::/7), link-local, CGNAT 100.64/10, unspecified, multicast,
reserved, and cloud metadata endpoints -- unless the site itself lives on such a network (its start URL's host
resolves to an address of that class: the class is then allowed for the scan; metadata never is) or the site's
config allows them (``[network] allow``: networks, addresses and host names).

Hosts written as integers, hex or octal (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``: what
``inet_aton`` and so the system resolver accept) and IPv4-mapped IPv6 (``::ffff:127.0.0.1``) are recognised.

The check is made on the addresses actually connected to: ``PolicyResolver`` resolves a name once, drops every
address the policy refuses and hands the rest to the connector, which connects only to those (a name that answers
a public address to a first lookup and 127.0.0.1 to a second cannot get through: there is no second lookup).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sitewatch.addresses import IPAddress, parse_allow, parse_ip

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver, ResolveResult

BLOCKED_REASON = "blocked_address"

_NET_TEXTS: dict[str, list[str]] = {
    "loopback": ["127.0.0.0/8", "::1/128"],
    "private": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    "link_local": ["169.254.0.0/16", "fe80::/10"],
    "cgnat": ["100.64.0.0/10"],
    "unspecified": ["0.0.0.0/8", "::/128"],
    "multicast": ["224.0.0.0/4", "ff00::/8", "255.255.255.255/32"],
    "reserved": ["240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15", "fec0::/10"],
}
_NETS: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {
    k: [ipaddress.ip_network(n) for n in v] for k, v in _NET_TEXTS.items()}
CLASSES = ("metadata", *_NETS)

# cloud instance metadata: never allowed by the site's own network, only by name in [network] allow
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",        # AWS, GCP, Azure, OpenStack, Huawei Cloud, Tencent Cloud (also 169.254.0.23)
    "169.254.0.23",           # Tencent Cloud (metadata.tencentyun.com)
    "169.254.170.2",          # AWS ECS task metadata
    "100.100.100.200",        # Alibaba Cloud
    "fd00:ec2::254",          # AWS over IPv6
))
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.tencentyun.com", "metadata.azure.internal"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class BlockedAddress(OSError):
    """A request the network policy refused before any connection was made."""

    def __init__(self, host: str, why: str):
        super().__init__(f"{host}: {why} (network policy; allow it with [network] allow)")
        self.host = host
        self.why = why


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:     # 2002:7f00:1::/48 routes to 127.0.0.1
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_class(ip: IPAddress) -> str | None:
    """The blocked class of an address ("loopback", "metadata", ...), None for a public address."""
    ip = _unmapped(ip)
    if ip in METADATA_ADDRESSES:
        return "metadata"
    for name, nets in _NETS.items():
        if any(ip in n for n in nets):
            return name
    return None


def name_class(host: str) -> str | None:
    """The class a host name is known to be in without resolving it."""
    h = host.strip().lower().rstrip(".")
    if h in METADATA_NAMES:
        return "metadata"
    if h in LOOPBACK_NAMES or h.endswith(".localhost"):
        return "loopback"
    return None


@dataclass
class NetPolicy:
    """What a scan may connect to. ``allowed`` holds the classes the site's own network opens; ``allow_nets`` and
    ``allow_hosts`` come from the config."""

    allowed: set[str] = field(default_factory=set)
    allow_nets: list[Any] = field(default_factory=list)
    allow_hosts: set[str] = field(default_factory=set)

    @classmethod
    def from_allow(cls, allow: Iterable[str] = (), allowed: Iterable[str] = ()) -> NetPolicy:
        nets, hosts = parse_allow(allow)
        return cls(set(allowed) - {"metadata"}, nets, hosts)

    @classmethod
    def for_site(cls, start_urls: Sequence[str], allow: Iterable[str] = (), resolve: bool = True) -> NetPolicy:
        """The policy of a scan of the site at ``start_urls``: each class its start hosts resolve to is allowed
        (never metadata)."""
        classes: set[str] = set()
        for url in start_urls:
            try:
                host = urlsplit(url).hostname or ""
            except ValueError:
                continue
            ip = parse_ip(host)
            if ip is not None:
                addrs: list[IPAddress] = [ip]
            else:
                known = name_class(host)
                if known:
                    classes.add(known)
                addrs = _resolve_quietly(host) if resolve else []
            classes.update(c for c in map(address_class, addrs) if c)
        return cls.from_allow(allow, classes)

    def _host_allowed(self, host: str) -> bool:
        h = host.strip().lower().rstrip(".")
        return h in self.allow_hosts or any(h.endswith(s) for s in self.allow_hosts if s.startswith("."))

    def check_ip(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be connected to, or None."""
        cls = address_class(ip)
        if cls is None or cls in self.allowed:
            return None
        if any(_unmapped(ip) in n or ip in n for n in self.allow_nets):
            return None
        return f"{cls} address {ip}"

    def check_host(self, host: str) -> str | None:
        """Why a URL's host may not be requested, judged without resolving it (literal addresses and names
        such as ``localhost`` or ``metadata.google.internal``), or None."""
        if self._host_allowed(host):
            return None
        ip = parse_ip(host)
        if ip is not None:
            return self.check_ip(ip)
        cls = name_class(host)
        if cls is not None and cls not in self.allowed:
            return f"{cls} host name {host}"
        return None

    def check_resolved(self, host: str, ip: IPAddress) -> str | None:
        """Why an address ``host`` resolved to may not be connected to, or None."""
        if self._host_allowed(host):
            return None
        return self.check_ip(ip)


def _resolve_quietly(host: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            pass
    return out


def _make_resolver_class() -> Callable[[NetPolicy, Any], AbstractResolver]:
    from aiohttp.abc import AbstractResolver  # lazy: heavy dependency, loaded with the first direct request
    from aiohttp.resolver import ThreadedResolver

    class PolicyResolver(AbstractResolver):
        """aiohttp resolver that resolves once and returns only the addresses the policy allows; the connector
        connects to exactly these (Happy Eyeballs across them). No address left: ``BlockedAddress``."""

        def __init__(self, policy: NetPolicy, inner: AbstractResolver | None = None):
            self.policy = policy
            self.inner = inner or ThreadedResolver()

        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            why = self.policy.check_host(host)
            if why:
                raise BlockedAddress(host, why)
            infos = await self.inner.resolve(host, port, family)
            kept: list[ResolveResult] = []
            refused: list[str] = []
            for info in infos:
                try:
                    ip = ipaddress.ip_address(str(info["host"]).split("%", 1)[0])
                except ValueError:
                    refused.append(f"unparsable address {info['host']!r}")
                    continue
                why = self.policy.check_resolved(host, ip)
                if why:
                    refused.append(why)
                else:
                    kept.append(info)
            if not kept:
                raise BlockedAddress(host, "resolves to " + "; ".join(dict.fromkeys(refused)))
            return kept

        async def close(self) -> None:
            await self.inner.close()

    return PolicyResolver


_resolver_class: Callable[[NetPolicy, Any], AbstractResolver] | None = None


def policy_resolver(policy: NetPolicy, inner: Any = None) -> AbstractResolver:
    """An aiohttp resolver enforcing ``policy`` (the class is built on first use: aiohttp is imported lazily)."""
    global _resolver_class
    if _resolver_class is None:
        _resolver_class = _make_resolver_class()
    return _resolver_class(policy, inner)
