"""An HTTP client of the connector protocol over several servicetask servers.

Calls are spread over the servers round robin; a server that cannot be reached (refused,
reset, timed out, or answering 502/503/504 without a connector body, as a proxy in front of a
dead server does) is set aside for ``cooldown`` seconds and the call goes to the next one. A
server that answers ``503 connector_busy`` did not run the call, so the next one gets it too.

A call whose connection broke after it was sent may have run on the server that died: it is
sent again elsewhere (at-least-once), with the same ``spiff__task_id``, which the server turns
into the task's idempotency key so a task can make the repeat harmless. Set
``resend_after_send=False`` for at-most-once instead.

Standard library only (``http.client``): one kept-alive connection per server and thread.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["ConnectorClient", "ConnectorResponse", "ConnectorUnavailable"]

#: Statuses a proxy or a stopping server gives when the call never reached a live connector.
_GATEWAY_STATUSES = (502, 503, 504)


class ConnectorUnavailable(Exception):
    """No server could answer a call."""

    def __init__(self, message: str, attempts: List[str]):
        super().__init__(message)
        self.attempts = attempts


@dataclass
class ConnectorResponse:
    """A server's answer: its HTTP status, the parsed JSON body and which server gave it."""

    status: int
    body: Dict[str, Any]
    url: str

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        """The body's ``error`` object, when it has one with an ``error_code``."""
        err = self.body.get("error")
        if isinstance(err, dict) and "error_code" in err:
            return err
        return None


class _Broken(Exception):
    """The connection failed; ``sent`` tells whether the request may have reached the server."""

    def __init__(self, cause: BaseException, sent: bool):
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent


class ConnectorClient:
    """Calls commands on one or more servicetask servers (``servicetask serve [--connector]``).

    :param urls: base URLs such as ``http://127.0.0.1:8080`` (a single string is one server)
    :param timeout: seconds to wait for a server's answer to one call
    :param connect_timeout: seconds to wait for a connection
    :param api_token: sent as ``Authorization: Bearer``, when the servers require one
    :param cooldown: seconds a server that failed is tried only after the others
    :param rounds: how many times the whole list is tried before giving up
    :param resend_after_send: send a call whose connection broke after sending to another
        server (at-least-once); ``False`` raises instead (at-most-once)
    :param max_response_bytes: the largest answer read
    """

    def __init__(
        self,
        urls: Sequence[str] | str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        api_token: Optional[str] = None,
        cooldown: float = 5.0,
        rounds: int = 2,
        resend_after_send: bool = True,
        max_response_bytes: int = 64 * 1024 * 1024,
    ):
        if isinstance(urls, str):
            urls = [urls]
        self.urls = [_check_url(u) for u in urls]
        self._prefix = {u: urllib.parse.urlsplit(u).path.rstrip("/") for u in self.urls}
        if not self.urls:
            raise ValueError("ConnectorClient needs at least one server URL")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.api_token = api_token
        self.cooldown = cooldown
        self.rounds = rounds
        self.resend_after_send = resend_after_send
        self.max_response_bytes = max_response_bytes
        self._next = itertools.count()
        self._down_until: Dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- public calls ---------------------------------------------------------------------------

    def commands(self) -> List[Dict[str, Any]]:
        """``GET /v1/commands`` from the first server that answers."""
        resp = self._request("GET", "/v1/commands", None, {})
        if resp.status != 200 or not isinstance(resp.body.get("commands"), list):
            raise ConnectorUnavailable(
                f"{resp.url}/v1/commands answered {resp.status}", [resp.url]
            )
        return resp.body["commands"]

    def call(
        self,
        operator: str,
        payload: Dict[str, Any],
        *,
        traceparent: Optional[str] = None,
        tracestate: Optional[str] = None,
    ) -> ConnectorResponse:
        """``POST /v1/do/<operator>`` with ``payload`` (parameters and ``spiff__`` fields)."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if traceparent:
            headers["traceparent"] = traceparent
        if tracestate:
            headers["tracestate"] = tracestate
        path = "/v1/do/" + urllib.parse.quote(operator, safe="/")
        return self._request("POST", path, body, headers)

    def close(self) -> None:
        """Closes this thread's connections."""
        for conn in getattr(self._local, "conns", {}).values():
            conn.close()
        self._local.conns = {}

    # -- spreading and failing over --------------------------------------------------------------

    def _order(self) -> List[str]:
        """The servers for one call: round robin from the next start, servers in cooldown last."""
        n = len(self.urls)
        start = next(self._next) % n
        ring = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        with self._lock:
            up = [u for u in ring if self._down_until.get(u, 0.0) <= now]
            down = [u for u in ring if self._down_until.get(u, 0.0) > now]
        return up + down

    def _set_aside(self, url: str) -> None:
        with self._lock:
            self._down_until[url] = time.monotonic() + self.cooldown

    def _request(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str]) -> ConnectorResponse:
        attempts: List[str] = []
        for round_no in range(self.rounds):
            if round_no:
                time.sleep(min(0.2 * round_no, 1.0))
            for url in self._order():
                try:
                    status, raw = self._send(url, method, path, body, headers)
                except _Broken as e:
                    attempts.append(f"{url}: {type(e.cause).__name__}: {e.cause}")
                    self._set_aside(url)
                    if e.sent and not self.resend_after_send:
                        raise ConnectorUnavailable(
                            f"the connection to {url} broke after the call was sent ({e.cause}); "
                            "not sent again (resend_after_send=False)",
                            attempts,
                        ) from e.cause
                    continue
                parsed = _parse_body(raw)
                if parsed is None or (status in _GATEWAY_STATUSES and not _is_connector_body(parsed)):
                    # not a connector's answer: a proxy in front of a dead server, or garbage
                    attempts.append(f"{url}: HTTP {status} without a connector body")
                    self._set_aside(url)
                    continue
                err = parsed.get("error")
                if status == 503 and isinstance(err, dict) and err.get("error_code") == "connector_busy":
                    attempts.append(f"{url}: busy")
                    continue
                return ConnectorResponse(status=status, body=parsed, url=url)
        raise ConnectorUnavailable(
            "no servicetask server answered: " + "; ".join(attempts[-len(self.urls) * 2 :]),
            attempts,
        )

    # -- one HTTP exchange -----------------------------------------------------------------------

    def _conn(self, url: str, fresh: bool) -> http.client.HTTPConnection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(url)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            parts = urllib.parse.urlsplit(url)
            cls = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
            conn = cls(parts.hostname, parts.port, timeout=self.connect_timeout)
            conns[url] = conn
        return conn

    def _send(self, url: str, method: str, path: str, body: Optional[bytes], headers: Dict[str, str]):
        headers = dict(headers)
        if self.api_token:
            headers["Authorization"] = f"Bearer {self.api_token}"
        prefix = self._prefix[url]
        reused = url in getattr(self._local, "conns", {})
        ever_sent = False
        for fresh in ((False, True) if reused else (True,)):
            conn = self._conn(url, fresh)
            try:
                if conn.sock is None:
                    conn.connect()
                conn.sock.settimeout(self.timeout)
                conn.request(method, prefix + path, body=body, headers=headers)
                ever_sent = True
                resp = conn.getresponse()
                raw = self._read_capped(resp)
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                # a kept-alive connection the server closed while idle fails at once: one more
                # try on a fresh connection to the same server before setting it aside
                stale = not fresh and isinstance(
                    e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if stale:
                    continue
                raise _Broken(e, sent=ever_sent) from e
            if raw is None:
                conn.close()
                raise _Broken(ValueError(f"the answer is over {self.max_response_bytes} bytes"), sent=True)
            if resp.will_close:
                conn.close()
            return resp.status, raw
        raise AssertionError("unreachable")


    def _read_capped(self, resp: http.client.HTTPResponse) -> Optional[bytes]:
        """The body, or ``None`` when it is over ``max_response_bytes`` (never read past it)."""
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit():
            if int(length) > self.max_response_bytes:
                return None
            return resp.read()
        chunks, size = [], 0
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_response_bytes:
                return None
            chunks.append(chunk)


class _OneWrite:
    """Sends a request's head and a bytes body in one write (http.client writes them apart,
    waking the server twice per call)."""

    def _send_output(self, message_body=None, encode_chunked=False):
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            msg = b"\r\n".join(self._buffer) + message_body
            del self._buffer[:]
            self.send(msg)
        else:
            super()._send_output(message_body, encode_chunked)


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


def _parse_body(raw: bytes) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(value, list):
        return {"commands": value}
    return value if isinstance(value, dict) else None


def _is_connector_body(body: Dict[str, Any]) -> bool:
    return "command_response" in body or "error" in body
