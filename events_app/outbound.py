"""Sending one webhook request, safely: the SSRF guard and a POST that cannot overstay.

- A hook's URL is ``http``/``https``, at most 2,000 characters, without credentials.
- Its host must not be, or resolve to, a loopback, private, link-local, multicast, reserved
  or otherwise non-global address (unless ``MUSEHUB_WEBHOOK_ALLOW_PRIVATE``). That is checked
  when the hook is saved and again before every attempt, and the attempt connects to the
  very address that was checked: a name that resolves to a public address when checked and
  to ``127.0.0.1`` a moment later (DNS rebinding) never gets a connection to the latter.
- An attempt lasts at most ``ATTEMPT_TIMEOUT`` seconds from connect to last byte: a
  watchdog closes the socket at the deadline, so a receiver trickling a byte every few
  seconds is cut too (a socket timeout alone restarts at each byte).
- Redirects are not followed (``http.client`` never follows them).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

#: Seconds one attempt may take, connect to last byte (SPEC "Webhooks").
ATTEMPT_TIMEOUT = 10.0
MAX_URL_LENGTH = 2000
#: The receiver's answer is read up to this much, then dropped (only its status matters).
MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeURLError(ValueError):
    """The URL may not be a hook's: the message says why (shown to the API caller)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    """The parts of a hook URL, or ``UnsafeURLError`` naming what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"Must be at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UnsafeURLError("Must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURLError("Must be a valid http or https URL.") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("Must be an http or https URL.")
    if not parts.hostname:
        raise UnsafeURLError("Must name a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("Must not contain credentials: put them in the secret or the path.")
    try:
        host = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() else parts.hostname
    except UnicodeError:
        raise UnsafeURLError("Must name a valid host.") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def _is_forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(target: Target) -> list[str]:
    """The addresses to connect to, each checked; ``UnsafeURLError`` when one is not allowed.

    Every address the name resolves to is checked, not only the first: a name with one
    public and one private address is refused.
    """
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURLError("The host name does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeURLError("The host name does not resolve.")
    if not settings.MUSEHUB_WEBHOOK_ALLOW_PRIVATE and any(_is_forbidden(address) for address in addresses):
        raise UnsafeURLError(
            "Must not point at a loopback, private, link-local, multicast or reserved address "
            "(MUSEHUB_WEBHOOK_ALLOW_PRIVATE=1 allows it)."
        )
    return addresses


def check_url(url: str) -> None:
    """``UnsafeURLError`` unless ``url`` may be a hook's (checked when a hook is saved)."""
    resolve(parse_url(url))


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: ``status_code`` None when no answer came back."""

    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` (already checked), while Host names the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``address``, verifying the certificate against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = ATTEMPT_TIMEOUT) -> Outcome:
    """POST ``body`` to ``url`` once; never raises for anything the network or receiver does."""
    started = time.monotonic()

    def done(status_code: int | None, error: str) -> Outcome:
        return Outcome(status_code, error, int((time.monotonic() - started) * 1000))

    try:
        target = parse_url(url)
        address = resolve(target)[0]
    except UnsafeURLError as exc:
        return done(None, f"Not sent: {exc}")
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    remaining = max(0.1, timeout - (time.monotonic() - started))
    conn = connection_class(target.host, target.port, address, remaining)
    cut = threading.Event()

    def watchdog() -> None:
        cut.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(remaining, watchdog)
    timer.daemon = True
    timer.start()
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status_code = response.status
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cut.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            return done(None, f"Timed out after {timeout:g} s.")
        return done(None, _describe(exc))
    finally:
        timer.cancel()
        conn.close()
    if cut.is_set():
        return done(None, f"Timed out after {timeout:g} s.")
    if 300 <= status_code < 400:
        return done(status_code, f"Redirect ({status_code}) not followed.")
    if not 200 <= status_code < 300:
        return done(status_code, f"HTTP {status_code}.")
    return done(status_code, "")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS error: {exc.__class__.__name__}."
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
        return "The receiver closed the connection without answering."
    return f"{exc.__class__.__name__}: {str(exc)[:200]}"
