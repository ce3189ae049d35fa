"""LeanHttpUser: a Locust user whose HTTP client costs the generator as little as it can.

A load generator's CPU per request is its budget: at match day one generator core must carry
thousands of users. Locust's ``FastHttpUser`` (geventhttpclient) spends ~80 µs per request at
saturation on this kind of machine, most of it in layers these scenarios never use: a cookie
jar, redirects, compressed bodies, URL parsing and case-insensitive header objects on every
request. ``LeanHttpUser`` keeps one keep-alive connection per user (one person's browser),
writes the request bytes directly, parses the response with httptools (the C parser uvicorn
uses) and fires Locust's ``request`` event with the same fields as ``FastHttpUser``, so Locust's
statistics, its web UI and loadgate's recorder see exactly the same thing: ~35 µs per request.

On purpose it does not follow redirects (a 3xx is the response), keep cookies, ask for
compressed bodies, speak HTTP/2 or use a proxy. HTTPS works; certificates are not checked
unless ``insecure = False``, as with Locust's own users. Requests go to the user's host only.

    class Bettor(LeanHttpUser):
        @task
        def market(self) -> None:
            with self.client.get("/markets/7", name="/markets/[id]", catch_response=True) as r:
                if r.json()["status"] != "open":
                    r.failure("market closed")
"""

from __future__ import annotations

import ipaddress
import socket
import time
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urlsplit

import gevent.socket
import gevent.ssl
import httptools
import orjson
from locust import User
from locust.exception import ResponseError

from scenarios import stamps

BLOCK = 65_536


class ProtocolError(OSError):
    """The server's bytes are not an HTTP/1.1 response."""


class ConnectionClosed(OSError):
    """The connection closed before a response began: on a reused connection, the server had
    dropped it while idle, so the request is sent again once on a new one."""


class HTTPStatusError(ResponseError):
    """A response whose status says the request failed (400 and above)."""


class _Parse:
    """httptools callbacks for one response."""

    __slots__ = ("body", "complete", "headers", "headers_done", "keep_alive", "parser", "skip_body")

    def __init__(self, skip_body: bool) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.complete = False
        self.headers_done = False
        self.keep_alive = False
        self.skip_body = skip_body
        self.parser: Any = None

    def on_message_begin(self) -> None:
        # an interim 1xx response is followed by the real one on the same connection
        self.headers, self.body, self.complete, self.headers_done = {}, [], False, False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.skip_body:  # HEAD: the headers describe a body that never comes
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # asked now: once the message is done the parser no longer knows
        self.keep_alive = bool(self.parser.should_keep_alive())


class LeanResponse:
    """A response (or, with ``status_code`` 0, a request that got none): the fields of Locust's
    responses that scenarios use, and the ``catch_response`` context manager."""

    __slots__ = (
        "_fire",
        "_manual",
        "content",
        "error",
        "generator_delay_ms",
        "headers",
        "request_meta",
        "status_code",
    )

    def __init__(
        self,
        status_code: int,
        headers: dict[str, str],
        content: bytes,
        error: BaseException | None,
        request_meta: dict[str, Any],
        fire: Any,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.error = error
        self.request_meta = request_meta
        self._fire = fire
        self._manual: bool | BaseException | None = None
        # how long the response waited on this machine for the generator (None: not known)
        self.generator_delay_ms: float | None = request_meta.get("generator_delay_ms")

    @property
    def ok(self) -> bool:
        return self.error is None and 0 < self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (orjson); ValueError when it is not JSON."""
        return orjson.loads(self.content)

    def outcome(self) -> BaseException | None:
        """What the request counts as: None for a success, else its failure."""
        if self.error is not None:
            return self.error
        if self.status_code >= 400:
            return HTTPStatusError(f"HTTP {self.status_code}")
        return None

    def raise_for_status(self) -> None:
        failure = self.outcome()
        if failure is not None:
            raise failure

    # --- catch_response ------------------------------------------------------------------------
    def success(self) -> None:
        self._manual = True

    def failure(self, exc: BaseException | str) -> None:
        self._manual = exc if isinstance(exc, BaseException) else ResponseError(str(exc))

    def __enter__(self) -> LeanResponse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:  # bool, typed loosely as Locust's own: a `with` that returns inside stays complete
        if self._manual is True:
            failure: BaseException | None = None
        elif isinstance(self._manual, BaseException):
            failure = self._manual
        elif exc is not None:
            failure = exc  # recorded as a failure, never lost; a non-ResponseError propagates
        else:
            failure = self.outcome()
        self.request_meta["exception"] = failure
        self._fire(**self.request_meta)
        # the event has seen the response: drop the meta -> response link, a reference cycle
        # that would leave every request to the cyclic collector (its pauses stall the hub)
        self.request_meta["response"] = None
        return exc is None or isinstance(exc, ResponseError)


class LeanSession:
    """One user's HTTP client: a keep-alive connection to the user's host, reopened as needed."""

    def __init__(
        self,
        base_url: str,
        request_event: Any,
        user: User | None,
        network_timeout: float = 60.0,
        connection_timeout: float = 60.0,
        insecure: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"LeanHttpUser needs an http(s) host, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.tls = parts.scheme == "https"
        self.address = (parts.hostname, parts.port or (443 if self.tls else 80))
        self.family = _ip_family(parts.hostname)
        self.prefix = parts.path.rstrip("/")
        self.host_line = f"Host: {parts.netloc}\r\n"
        self.fire = request_event.fire
        self.user = user
        self.network_timeout = network_timeout
        self.connection_timeout = connection_timeout
        self.insecure = insecure
        self.sock: Any = None
        self.deadline = float("inf")
        self.expired = False
        self.stamped = False  # the kernel stamps what arrives on the current connection
        self.arrived: float | None = None  # when the last bytes read had arrived

    # --- the API scenarios use ------------------------------------------------------------
    def get(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("DELETE", path, **kw)

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        data: bytes | str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
    ) -> LeanResponse:
        """Send one request and fire Locust's ``request`` event for it (at once, or when the
        ``catch_response`` block ends)."""
        if not path.startswith("/"):
            raise ValueError(f"LeanHttpUser requests go to its host: a path, got {path!r}")
        body = data.encode() if isinstance(data, str) else data or b""
        extra = headers
        if json is not None and not data:
            body = orjson.dumps(json)
            extra = {"Content-Type": "application/json", **(headers or {})}
        head = self._head(method, self.prefix + path, extra, len(body))
        meta_context = {**self.user.context(), **(context or {})} if self.user else context or {}
        started = time.time()
        clock = time.perf_counter()
        status, content, error = 0, b"", None
        got: dict[str, str] = {}
        self.arrived = None
        self.deadline = time.monotonic() + self.network_timeout
        self.expired = False
        _WATCHDOG.watch(self)
        try:
            status, got, content = self._exchange(head + body, method == "HEAD")
        except OSError as exc:  # refused, reset, not HTTP, or closed by the watchdog
            error = (
                TimeoutError(f"no response within {self.network_timeout:g} s")
                if self.expired
                else exc
            )
        finally:
            _WATCHDOG.waiting.discard(self)
        done = time.time()
        meta: dict[str, Any] = {
            "request_type": method,
            "name": name or path,
            "response_time": (time.perf_counter() - clock) * 1000,
            "generator_delay_ms": (
                max(0.0, done - self.arrived) * 1000 if self.arrived is not None else None
            ),
            "response_length": len(content),
            "context": meta_context,
            "exception": None,
            "start_time": started,
            "url": self.base_url + path,
        }
        response = LeanResponse(status, got, content, error, meta, self.fire)
        meta["response"] = response
        if not catch_response:
            meta["exception"] = response.outcome()
            self.fire(**meta)
            meta["response"] = None  # no cycle left behind (see LeanResponse.__exit__)
        return response

    # --- the wire -------------------------------------------------------------------------
    def _head(self, method: str, target: str, headers: dict[str, str] | None, length: int) -> bytes:
        fields = ""
        if headers:
            for key, value in headers.items():
                if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
                    raise ValueError(f"header {key!r}: line breaks are not allowed")
                fields += f"{key}: {value}\r\n"
        if length or method in ("POST", "PUT", "PATCH"):
            fields += f"Content-Length: {length}\r\n"
        head = f"{method} {target} HTTP/1.1\r\n{self.host_line}{fields}\r\n"
        try:
            return head.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"{target!r}: percent-encode what is not ASCII") from None

    def _connect(self) -> Any:
        if self.family is None:  # a name: resolve it (in gevent's resolver threads)
            sock = gevent.socket.create_connection(self.address, timeout=self.connection_timeout)
        else:  # an address: no resolver round trip for every new connection
            sock = gevent.socket.socket(self.family, socket.SOCK_STREAM)
            sock.settimeout(self.connection_timeout)
            try:
                sock.connect(self.address)
            except BaseException:
                sock.close()
                raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            ctx = gevent.ssl.create_default_context()
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = gevent.ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=self.address[0])
        sock.settimeout(None)  # waits cost no timer; the watchdog ends late requests
        self.stamped = not self.tls and stamps.enable(sock)
        return sock

    def close(self) -> None:
        if self.sock is not None:
            sock, self.sock = self.sock, None
            sock.close()

    def expire(self) -> None:
        """The request ran past ``network_timeout``: close its connection (waking it)."""
        self.expired = True
        self.close()

    def _exchange(self, message: bytes, head_only: bool) -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            reused = self.sock is not None
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(message)
                return self._read(head_only)
            except (ConnectionClosed, BrokenPipeError):
                self.close()
                if not reused or attempt:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def _recv(self) -> bytes:
        if not self.stamped:
            data: bytes = self.sock.recv(BLOCK)
            return data
        data, arrived = stamps.recv(self.sock, BLOCK)
        if arrived is not None:
            self.arrived = arrived
        return data

    def _read(self, head_only: bool) -> tuple[int, dict[str, str], bytes]:
        recv = self._recv
        data = self._first(recv)
        # the parser is made only once bytes are here: a request waiting on a slow server
        # holds no parser (thousands wait at once when a server is saturated, and every object
        # they hold is walked by each run of the cyclic collector)
        state = _Parse(head_only)
        parser = state.parser = httptools.HttpResponseParser(state)
        try:
            while True:
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    raise ProtocolError(f"not an HTTP response: {exc}") from None
                if state.complete and 100 <= parser.get_status_code() < 200:
                    state.complete = False  # an interim response: the real one follows
                if state.complete:
                    break
                data = recv()
                if not data:
                    if state.headers_done and not {"content-length", "transfer-encoding"} & set(
                        state.headers
                    ):
                        break  # a body delimited by the end of the connection
                    raise ProtocolError(
                        "the server closed the connection in the middle of a response"
                    )
            status = parser.get_status_code()
        finally:
            state.parser = None  # parser <-> callbacks is a cycle: leave none to the collector
        if not state.complete or not state.keep_alive:
            self.close()
        return status, state.headers, b"".join(state.body)

    @staticmethod
    def _first(recv: Any) -> bytes:
        try:
            data: bytes = recv()
        except ConnectionResetError:
            data = b""
        if not data:
            raise ConnectionClosed("the server closed the connection before responding")
        return data


class _Watchdog:
    """Ends requests that outlive their session's ``network_timeout``, for every session of the
    process, from one greenlet that looks twice a second.

    A socket timeout would cost each waiting request a timer, a Timeout and an exception object
    (gevent makes them per wait); thousands wait at once against a saturated server. Closing a
    late request's socket from here wakes its greenlet with an error instead."""

    EVERY_S = 0.5

    def __init__(self) -> None:
        self.waiting: set[LeanSession] = set()
        self.running = False

    def watch(self, session: LeanSession) -> None:
        self.waiting.add(session)
        if not self.running:
            self.running = True
            gevent.spawn(self.run)

    def run(self) -> None:
        try:
            while self.waiting:
                gevent.sleep(self.EVERY_S)
                now = time.monotonic()
                for session in [s for s in self.waiting if s.deadline < now]:
                    session.expire()
        finally:
            self.running = False


_WATCHDOG = _Watchdog()


def _ip_family(host: str) -> int | None:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


class LeanHttpUser(User):
    """A Locust user with a :class:`LeanSession` as ``self.client`` (see the module's doc)."""

    abstract = True
    network_timeout: ClassVar[float] = 60.0
    connection_timeout: ClassVar[float] = 60.0
    insecure: ClassVar[bool] = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if self.host is None:
            raise ValueError("LeanHttpUser needs a host: set --host or the class's host")
        self.client = LeanSession(
            self.host,
            self.environment.events.request,
            self,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            insecure=self.insecure,
        )
