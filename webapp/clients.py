"""Who a visitor is, for the limits: their browser (a long-lived cookie) and their network address. Pure.

A browser keeps one random token in a cookie for a year, so a reload, a new tab or a new
session is the same client, and every per-client limit holds across them. A visitor who
clears the cookie (or a script that never keeps one) becomes a new client each time, which is
why limits hold per address too, looser: a whole class often shares one public address.

The address is the connection's peer, except behind a trusted reverse proxy (DIGIT_LAB_TRUSTED_PROXIES),
where it is the right-most address in X-Forwarded-For that is not itself a trusted proxy: each proxy
appends the address it saw, so entries left of the last untrusted one may be forged by the visitor.
An IPv6 address counts as its network (DIGIT_LAB_IPV6_PREFIX, /56 by default: what one household or
phone contract is usually given whole, so it cannot pose as many clients by changing addresses).
"""

import ipaddress
import logging
import re
import secrets
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple, Protocol

__all__ = ["COOKIE", "COOKIE_DAYS", "Client", "address_key", "client_address", "identify", "valid_token"]


class Once(Protocol):
    """What says whether the log was told of a key already (the server's: webapp.session.once.Once)."""

    def first(self, key: Hashable) -> bool: ...


COOKIE = "digit_lab_client"
COOKIE_DAYS = 400  # browsers cap a cookie's life at 400 days
LOOPBACK = "127.0.0.1"  # Streamlit reports no address for a loopback connection
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")
_WITH_PORT = re.compile(r"\[(?P<v6>[^\]]+)\](:\d+)?|(?P<v4>[0-9.]+):\d+")  # [2001:db8::1]:443, 192.0.2.1:5678
log = logging.getLogger("digit_lab")
UNTRUSTED_FORWARD = "X-Forwarded-For from a peer not trusted"  # the topic of its Once (resources.log_once)


class Client(NamedTuple):
    """One visitor as the limits see them."""

    token: str  # the browser's long-lived random id (the store's `owner`)
    address: str  # address_key of where they connect from
    new: bool  # the token was made now: the browser has to be told to keep it


def valid_token(value: object) -> bool:
    """True if `value` has the shape of a client token (what `identify` makes)."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def address_key(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, ipv6_prefix: int = 56) -> str:
    """The address limits count by: an IPv4 address as it is, an IPv6 one as its network of `ipv6_prefix` bits
    (IPv4-mapped ones as IPv4). Takes an address, or a key already made (moderation types either)."""
    if isinstance(ip, str) and "/" in ip:  # a key as kept: one IPv4 address, or an IPv6 network of our size or
        network = ipaddress.ip_network(ip, strict=False)  # smaller (rows kept before a change of size keep theirs)
        if network.version == 4 and network.prefixlen == 32:
            return str(network.network_address)
        if network.version == 4 or network.prefixlen < ipv6_prefix:
            raise ValueError(f"{ip} is wider than an address key: an IPv4 address, or an IPv6 network of "
                             f"/{ipv6_prefix} or narrower")
        return str(network)
    ip = ipaddress.ip_address(ip)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{ipv6_prefix}", strict=False))


def _parse(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a forwarding header's entry, with or without a port; None for anything else
    ("unknown", an obfuscated name, garbage)."""
    if not isinstance(text, str):  # (AppTest's context gives a mock)
        return None
    text = text.strip()
    match = _WITH_PORT.fullmatch(text)
    if match:
        text = match.group("v6") or match.group("v4")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   trusted: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], warned: Once | None = None) -> str:
    """The visitor's address: `peer` (the connection's, None for loopback), or, when the peer is one of the
    `trusted` networks, the right-most untrusted address of the X-Forwarded-For values `forwarded_for`.

    X-Forwarded-For from a peer that is no trusted proxy is logged once per peer `warned` (the server's:
    resources.log_once) has room for; not at all without one.
    """
    here = _parse(peer) if peer else ipaddress.ip_address(LOOPBACK)
    if here is None:
        return LOOPBACK
    chain = [a for value in forwarded_for for a in value.split(",") if a.strip()]
    if chain and not any(here in network for network in trusted) and warned is not None and warned.first(here):
        log.warning("X-Forwarded-For came from %s, which is not in DIGIT_LAB_TRUSTED_PROXIES, so it is ignored: "
                    "behind a reverse proxy, list the proxy there, or every visitor counts as the proxy's "
                    "address (logged once for this peer)", here)
    while chain and any(here in network for network in trusted):
        hop = _parse(chain.pop())
        if hop is None:  # garbage in the header: stop believing it, keep the last address known
            break
        here = hop
    return str(here)


def identify(cookies: Mapping[str, str], forwarded_for: Iterable[str], peer: str | None,
             trusted: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], ipv6_prefix: int = 56,
             warned: Once | None = None) -> Client:
    """The Client a connection comes from: its cookie's token, or a new one; its address key (client_address,
    which logs a forwarding header it ignores once per peer `warned` has room for)."""
    found = cookies.get(COOKIE)
    new = not valid_token(found)
    token = secrets.token_urlsafe(24) if new else str(found)
    return Client(token, address_key(client_address(peer, forwarded_for, trusted, warned), ipv6_prefix), new)
