"""A local API Gateway (REST API, Lambda proxy integration) built from the template's Api events.

Every HTTP request becomes a proxy event (payload version 1.0) for the function whose route
matches, and the function's answer becomes the HTTP response. What API Gateway answers itself
(no route, handler failure, body too large) uses the template's GatewayResponses.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from revisit_dev.template import ACCOUNT_ID, Route, Template

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"tkn_([A-Za-z0-9]{4})[A-Za-z0-9]+")


def _logged(path: str) -> str:
    """A path as the log shows it: a one-time token (a bearer capability) as ``tkn_…abcd``."""
    return _TOKEN.sub(lambda m: f"tkn_…{m.group(1)}", path)


MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

Invoke = Callable[[str, dict[str, Any], float], Any]  # (function logical id, event, timeout) -> result
INTEGRATION_TIMEOUT = 29.0  # API Gateway's limit for a Lambda integration


class MalformedProxyResponse(ValueError):
    pass


# ------------------------------------------------------------------ routing


@dataclass(frozen=True)
class Match:
    function: str
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    function: str
    route: Route
    regex: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, ...]  # per segment: 0 literal, 1 {param}, 2 {greedy+}; lower is more specific


def _compile(function: str, route: Route) -> _CompiledRoute:
    parts, names, rank = [], [], []
    for segment in route.path.strip("/").split("/") if route.path.strip("/") else []:
        param = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            rank.append(0)
        else:
            names.append(param.group(1))
            parts.append("(.+)" if param.group(2) else "([^/]+)")
            rank.append(2 if param.group(2) else 1)
    regex = re.compile("^/" + "/".join(parts) + "/?$")
    return _CompiledRoute(function, route, regex, tuple(names), (*rank, 1 if route.method == "ANY" else 0))


class Router:
    """Finds the most specific route for a request, as API Gateway does."""

    def __init__(self, routes: Iterable[tuple[str, Route]]) -> None:
        self._routes = sorted((_compile(fn, r) for fn, r in routes), key=lambda c: c.rank)

    @classmethod
    def from_template(cls, template: Template) -> Router:
        return cls((fn.logical_id, route) for fn in template.functions for route in fn.routes)

    def match(self, method: str, path: str) -> Match | None:
        for c in self._routes:
            m = c.regex.match(path)
            if m and c.route.method in ("ANY", method):
                return Match(c.function, c.route, dict(zip(c.names, m.groups(), strict=True)))
        return None

    @property
    def routes(self) -> list[tuple[str, Route]]:
        return [(c.function, c.route) for c in self._routes]


# ------------------------------------------------------------------ request -> event


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # decoded, without the query string
    query: str = ""  # raw query string
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_ms: int = field(default_factory=lambda: int(time.time() * 1000))


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value
        multi.setdefault(key, []).append(value)
    return (single or None, multi or None)


def build_event(request: Request, match: Match, stage: str) -> dict[str, Any]:
    """The REST API proxy event (payload format 1.0) API Gateway would send for ``request``."""
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(parse_qsl(request.query, keep_blank_values=True))
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    if request.body:
        try:
            body: str | None = request.body.decode()
            is_base64 = False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(request.body).decode(), True
    else:
        body, is_base64 = None, False
    request_time = datetime.fromtimestamp(request.time_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return {
        "resource": match.route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": match.route.path,
            "httpMethod": request.method,
            "extendedRequestId": request.request_id,
            "requestTime": request_time,
            "path": request.path,
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": lower.get("host", "localhost").split(".")[0],
            "requestTimeEpoch": request.time_ms,
            "requestId": request.request_id,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": lower.get("user-agent"),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "accessKey": None,
            },
            "domainName": lower.get("host", "localhost"),
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


# ------------------------------------------------------------------ result -> response


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function: str | None = None


def proxy_reply(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a Lambda proxy result (statusCode, headers, multiValueHeaders, body, isBase64Encoded)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int | str):
        raise MalformedProxyResponse(f"not a proxy response: {str(result)[:200]}")
    multi = {k: [str(v) for v in vs] for k, vs in (result.get("multiValueHeaders") or {}).items()}
    taken = {k.lower() for k in multi}
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in taken]
    headers += [(k, v) for k, vs in multi.items() for v in vs]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = str(raw).encode()
    return int(result["statusCode"]), headers, body


# ------------------------------------------------------------------ the gateway


class Gateway:
    """Answers requests: routes them to functions or produces API Gateway's own responses."""

    def __init__(
        self,
        template: Template,
        invoke: Invoke,
        stage: str = "dev",
        health: Callable[[], dict[str, Any]] | None = None,
        local: dict[str, Callable[[Request], Any]] | None = None,
    ) -> None:
        self.template = template
        self.local = local or {}  # "GET /_local/outbox" or "POST /_local/invoke/" (a prefix) -> handler
        self.router = Router.from_template(template)
        self.invoke = invoke
        self.stage = stage
        self.health = health or (lambda: {"status": "ok"})
        self.timeouts = {fn.logical_id: fn.timeout_seconds for fn in template.functions}
        self.responses = template.gateway_responses

    def _local(self, request: Request) -> Reply | None:
        for key, handler in self.local.items():
            method, _, path = key.partition(" ")
            prefix = path.endswith("/") and request.path.startswith(path)
            if request.method == method and (request.path == path or prefix):
                try:
                    status, body = 200, handler(request)
                except LookupError as exc:
                    status, body = 404, {"message": str(exc).strip("'")}
                except ValueError as exc:  # e.g. a body that is not JSON
                    status, body = 400, {"message": str(exc)}
                except Exception as exc:  # the function failed: say how (revisit invoke prints it)
                    log.error("%s %s failed: %s", request.method, _logged(request.path), exc)
                    error_type = getattr(exc, "error_type", type(exc).__name__)
                    status, body = 502, {"errorType": error_type, "message": getattr(exc, "message", str(exc))}
                text = json.dumps(body, indent=2, default=str)
                return Reply(status, [("Content-Type", "application/json")], text.encode())
        return None

    def respond(self, request: Request) -> Reply:
        if request.method == "GET" and request.path == "/health":
            return Reply(200, [("Content-Type", "application/json")], json.dumps(self.health()).encode())
        if request.path.startswith("/_local/") and (reply := self._local(request)) is not None:
            return reply
        if len(request.body) > MAX_BODY_BYTES:
            return self._own("REQUEST_TOO_LARGE", request, "Request Too Long")
        match = self.router.match(request.method, request.path)
        if match is None:
            return self._own("MISSING_AUTHENTICATION_TOKEN", request, "Missing Authentication Token")
        event = build_event(request, match, self.stage)
        timeout = self.timeouts.get(match.function, INTEGRATION_TIMEOUT)
        try:
            # API Gateway waits 29 s for the integration; a function with a longer Timeout is cut off there.
            result = self.invoke(match.function, event, min(timeout, INTEGRATION_TIMEOUT))
            status, headers, body = proxy_reply(result)
        except MalformedProxyResponse as exc:
            log.error("%s returned a malformed proxy response: %s", match.function, exc)
            return self._own("DEFAULT_5XX", request, "Internal server error", match.function)
        except Exception as exc:
            if timeout > INTEGRATION_TIMEOUT and getattr(exc, "error_type", "") == "Sandbox.Timedout":
                return self._own("INTEGRATION_TIMEOUT", request, "Endpoint request timed out", match.function)
            log.error("%s failed on %s %s: %s", match.function, request.method, _logged(request.path), exc)
            return self._own("DEFAULT_5XX", request, "Internal server error", match.function)
        return Reply(status, [*headers, ("x-amzn-RequestId", request.request_id)], body, match.function)

    def _own(self, type_: str, request: Request, message: str, function: str | None = None) -> Reply:
        response = self.responses[type_]
        body = response.render(request.method, request.path, request.request_id, message)
        headers = [
            ("Content-Type", response.content_type),
            *response.headers.items(),
            ("x-amzn-RequestId", request.request_id),
            ("x-amzn-ErrorType", type_),
        ]
        return Reply(response.status, headers, body.encode(), function)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes; with Nagle's algorithm on, the body waits for the client's
    # delayed ACK of the headers on a kept-alive connection: 40 ms added to every response.
    disable_nagle_algorithm = True
    server: GatewayServer

    def _serve(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        body = self._read_body()
        request = Request(
            method=self.command,
            path=unquote(url.path) or "/",
            query=url.query,
            headers=tuple(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        with self.server.tracking():
            reply = self.server.gateway.respond(request)
        try:
            self.send_response(reply.status)
            for key, value in reply.headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1fms %s", self.command, _logged(url.path), reply.status, ms, reply.function or "-")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is logged by _serve


class GatewayServer(ThreadingHTTPServer):
    """A threaded HTTP server for a Gateway that knows how many requests are in flight."""

    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) resets bursts of connections

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, _Handler)
        self.gateway = gateway
        self._in_flight = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def drain(self, timeout: float = 10) -> bool:
        """Wait until no request is being answered; False if some still are after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
