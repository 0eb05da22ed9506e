"""Rules for customer-given webhook URLs, including the SSRF guard.

Checked when a URL is saved and again, against the addresses actually
connected to, when a webhook is delivered.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """The URL breaks the webhook rules; the message says which."""


def forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
            or ip.is_unspecified or ip.is_reserved)


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (empty if it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({info[4][0] for info in infos})


def check_address(address: str) -> None:
    if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS and forbidden_address(address):
        raise UnsafeUrl(f"Webhook host resolves to a non-public address ({address}).")


def check_url(url: str) -> None:
    """Validate ``url``: scheme, host, no credentials, and no forbidden address.

    A host that does not resolve is accepted (it may resolve later; delivery checks again, against
    the addresses it actually connects to).
    """
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("Webhook URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Webhook URL is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl("Webhook URL must use http or https.")
    if not parts.hostname:
        raise UnsafeUrl("Webhook URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("Webhook URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("Webhook URL has an invalid port.")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        addresses = resolve(host, port)
    for address in addresses:
        check_address(address)
