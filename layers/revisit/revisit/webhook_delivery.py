"""Webhooks on the wire: Standard Webhooks v1 signatures, an SSRF-safe POST, the delivery queue.

Signing: ``webhook-signature`` is ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`` per
secret (space-separated while a rotated-out secret still signs), the key being the base64 part of
``whsec_<base64>``.

The POST (:func:`post`) resolves the URL's host at every delivery and refuses it unless every
address is public (no private, loopback, link-local - the metadata service at 169.254.169.254 -,
unique-local, multicast, reserved or unspecified address, also inside IPv4-mapped, 6to4, Teredo
or NAT64 IPv6 forms); then it connects to the address it checked (never resolving again: no DNS
rebinding), with the URL's host name as Host header and TLS server name. Redirects are never
followed (http.client does not); a 3xx is a failed attempt. Only https leaves a deployed stack;
the local stack (``WEBHOOK_ALLOW_LOOPBACK``) alone also allows loopback addresses, over http too.

Clients (SQS) are created on first use; standard library only otherwise.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from revisit.config import settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec allows 24-64
TIMEOUT_SECONDS = 15.0  # success is a 2xx within this
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an answer (the rest is dropped)
MAX_QUEUE_DELAY = 900  # SQS DelaySeconds at most
USER_AGENT = "Revisit-Webhooks/1"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# ------------------------------------------------------------------ secrets and signatures


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """One ``v1,<base64>`` signature of ``<msg_id>.<timestamp>.<body>``."""
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(signing_secrets: Iterable[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The request headers of one attempt: a signature per secret that signs now."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in signing_secrets),
    }


# ------------------------------------------------------------------ where a URL may point


class Refused(ValueError):
    """The destination is not one a webhook may be sent to."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (the one DNS look-up of a delivery; tests replace it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.append(ip.teredo[1])
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_loopback or (isinstance(ip, ipaddress.IPv6Address) and any(a.is_loopback for a in _embedded_v4(ip)))


def address_allowed(address: str, allow_loopback: bool = False) -> bool:
    """Whether a webhook may connect to ``address``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if allow_loopback and _loopback(ip):
        return True
    if isinstance(ip, ipaddress.IPv6Address) and any(not _public(a) for a in _embedded_v4(ip)):
        return False
    return _public(ip)


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query
    address: str  # the checked address the connection goes to


def check_url(url: str, allow_loopback: bool | None = None) -> Destination:
    """Where ``url`` leads now: Refused unless every address of its host may be reached."""
    allow = settings().webhook_allow_loopback if allow_loopback is None else allow_loopback
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused("must be an https URL")
    if parts.username or parts.password:
        raise Refused("must not carry credentials")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host, port)
    if not addresses:
        raise Refused(f"{host} has no address")
    for address in addresses:
        if not address_allowed(address, allow):
            raise Refused(f"{host} resolves to {address}, a private, loopback, link-local or reserved address")
    if parts.scheme == "http" and not (allow and all(_loopback(ipaddress.ip_address(a)) for a in addresses)):
        raise Refused("must be an https URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, host, port, target, addresses[0])


# ------------------------------------------------------------------ the POST


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Result:
    """One attempt: ``status`` None when no answer came (refused, timeout, connection error)."""

    status: int | None
    latency_ms: int
    error: str | None = None
    retry_after: float | None = None  # seconds, from a 429's (or 503's) Retry-After

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Sender = Callable[[str, dict[str, str], bytes], Result]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def post(url: str, request_headers: dict[str, str], body: bytes, timeout: float = TIMEOUT_SECONDS) -> Result:
    """POST ``body`` to ``url`` through the SSRF guard; never raises for a failed attempt."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        dest = check_url(url)
    except Refused as exc:
        return Result(None, took(), f"refused: {exc}")
    kind = _PinnedHTTPS if dest.scheme == "https" else _PinnedHTTP
    conn = kind(dest.host, dest.port, dest.address, timeout)
    try:
        conn.request("POST", dest.target, body=body, headers=request_headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        elapsed = took()
        if elapsed > timeout * 1000:
            return Result(None, elapsed, f"no answer within {timeout:.0f} s")
        error = None
        if 300 <= response.status < 400:
            error = f"redirect to {response.getheader('location') or '?'} not followed"
        elif not 200 <= response.status < 300:
            error = f"HTTP {response.status}"
        return Result(response.status, elapsed, error, retry_after_seconds(response.getheader("retry-after")))
    except TimeoutError:
        return Result(None, took(), f"no answer within {timeout:.0f} s")
    except (OSError, http.client.HTTPException) as exc:
        return Result(None, took(), f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()


# ------------------------------------------------------------------ the delivery queue


@functools.cache
def _sqs():
    import boto3

    return boto3.client("sqs", region_name=settings().region)


def enqueue(message: dict, delay_seconds: float = 0) -> None:
    """Put one delivery message on the queue, visible after ``delay_seconds`` (at most 900)."""
    delay = max(0, min(MAX_QUEUE_DELAY, round(delay_seconds)))
    text = json.dumps(message, separators=(",", ":"))
    _sqs().send_message(QueueUrl=settings().webhook_queue_url, MessageBody=text, DelaySeconds=delay)
