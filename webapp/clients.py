"""Who a visitor is, for the limits: their browser (a long-lived cookie) and their network address. Pure.

A browser keeps one random token in a cookie for a year, so a reload, a new tab or a new
session is the same client, and every per-client limit holds across them. A visitor who
clears the cookie (or a script that never keeps one) becomes a new client each time, which is
why limits hold per address too, looser: a whole class often shares one public address.

The address is the connection's peer, except behind a trusted reverse proxy (DIGIT_LAB_TRUSTED_PROXIES),
where it is the right-most address in X-Forwarded-For that is not itself a trusted proxy: each proxy
appends the address it saw, so entries left of the last untrusted one may be forged by the visitor.
An IPv6 address counts as its /64 network, which one household or phone usually holds whole.
"""

import ipaddress
import re
import secrets
from typing import NamedTuple

__all__ = ["COOKIE", "COOKIE_DAYS", "Client", "address_key", "client_address", "identify", "valid_token"]

COOKIE = "digit_lab_client"
COOKIE_DAYS = 400  # browsers cap a cookie's life at 400 days
LOOPBACK = "127.0.0.1"  # Streamlit reports no address for a loopback connection
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")


class Client(NamedTuple):
    """One visitor as the limits see them."""

    token: str  # the browser's long-lived random id (the store's `owner`)
    address: str  # address_key of where they connect from
    new: bool  # the token was made now: the browser has to be told to keep it


def valid_token(value):
    """True if `value` has the shape of a client token (what `identify` makes)."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def address_key(ip):
    """The address limits count by: an IPv4 address as it is, an IPv6 one as its /64 (IPv4-mapped ones as IPv4)."""
    ip = ipaddress.ip_address(ip)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _parse(text):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer, forwarded_for, trusted):
    """The visitor's address: `peer` (the connection's, None for loopback), or, when the peer is one of the
    `trusted` networks, the right-most untrusted address of the X-Forwarded-For values `forwarded_for`."""
    here = _parse(peer) if peer else ipaddress.ip_address(LOOPBACK)
    if here is None:
        return LOOPBACK
    chain = [a for value in forwarded_for for a in value.split(",") if a.strip()]
    while chain and any(here in network for network in trusted):
        hop = _parse(chain.pop())
        if hop is None:  # garbage in the header: stop believing it, keep the last address known
            break
        here = hop
    return str(here)


def identify(cookies, forwarded_for, peer, trusted):
    """The Client a connection comes from: its cookie's token, or a new one; its address key."""
    token = cookies.get(COOKIE)
    new = not valid_token(token)
    if new:
        token = secrets.token_urlsafe(24)
    return Client(token, address_key(client_address(peer, forwarded_for, trusted)), new)
