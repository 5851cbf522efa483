"""Where partner webhooks may be sent: not into the publisher's own network (SSRF).

A partner chooses the URL and the worker POSTs to it from inside our network, so a URL naming
(or resolving to) a loopback, private, link-local or otherwise non-public address would let a
partner reach internal services such as a cloud metadata endpoint. The check runs when an endpoint
is registered and again before every send, because DNS can change after registration; the send
then connects to the very address that was checked (the hostname still goes in `Host` and in TLS
SNI and certificate checks), so a second lookup cannot swap in another one (DNS rebinding).

`SYNDICATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` lifts the address check, for development and
tests that deliver to 127.0.0.1; production also requires https.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from api.delivery.errors import BadWebhookUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to for it."""

    url: str  # what to request: the host replaced by the checked address
    host_header: str
    sni_hostname: str | None  # https: the name the certificate must carry


def refusal(ip: IPAddress) -> str | None:
    """Why webhooks may not go to `ip` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def _parse(url: str, *, require_https: bool) -> SplitResult:
    parts = urlsplit(url)
    allowed = ("https",) if require_https else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise BadWebhookUrl(f"Webhook URLs must be absolute {' or '.join(allowed)} URLs; got {url!r}.", reason="scheme")
    if parts.username or parts.password:
        raise BadWebhookUrl("Webhook URLs must not carry a user name or password.", reason="credentials")
    try:
        parts.port
    except ValueError as exc:
        raise BadWebhookUrl(f"The port in {url!r} is not a number between 0 and 65535.", reason="port") from exc
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Drop an IPv6 scope ("fe80::1%eth0"): the address itself is what is judged.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def _check_addresses(host: str, addresses: list[IPAddress]) -> None:
    for ip in addresses:
        why = refusal(ip)
        if why is not None:
            named = f"{ip} is" if _literal(host) else f"{host} resolves to {ip}, which is"
            raise BadWebhookUrl(f"Webhook URLs must reach the public internet: {named} {why}. "
                                "Use your endpoint's public address.", reason="private-address", address=str(ip))


def check_registration(url: str, *, require_https: bool, allow_private: bool) -> None:
    """Refuse a URL that is malformed or points into a private network. A name that does not resolve
    (yet) is accepted: it is checked again before every send, and nothing is sent until it resolves."""
    parts = _parse(url, require_https=require_https)
    if allow_private:
        return
    host = parts.hostname or ""
    literal = _literal(host)
    if literal is not None:
        _check_addresses(host, [literal])
        return
    try:
        addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return
    _check_addresses(host, addresses)


def resolve_for_send(url: str, *, require_https: bool, allow_private: bool) -> Target:
    """Check `url` now and pin it to an acceptable address; raises BadWebhookUrl, or OSError when the
    name does not resolve."""
    parts = _parse(url, require_https=require_https)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _literal(host)
    addresses = [literal] if literal is not None else _resolve(host, port)
    if not allow_private:
        _check_addresses(host, addresses)
    ip = addresses[0]
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(url=pinned, host_header=host_header, sni_hostname=host if parts.scheme == "https" and literal is None else None)
