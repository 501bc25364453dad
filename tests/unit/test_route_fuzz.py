"""Property-based fuzzing of every JSON route, in-process (issue 18 part 2).

The routes come from template.yaml (each function's Api events) and the methods from each
function's app.py (the ``@app.<method>`` decorators, read as ``revisit_dev.openapi`` reads them);
a route is a JSON one when its handler reads a body, a query or a credential through the HTTP
helpers or answers with ``json_response`` (the survey pages, the click redirect and the docs are
not). For each route hypothesis builds hostile requests against the real handler under moto:
wrong types, missing and extra fields, huge strings and deeply nested values, invalid UTF-8
(``isBase64Encoded`` with random bytes), odd content types, NaN / Infinity / 1e400 literals in the
JSON text, out-of-range numbers and dates (years 0, 1, 9999, 10000, offsets), DynamoDB expression
syntax in the filter parameters, with credentials of the right kind most of the time (so that
validation is reached) and none or wrong ones otherwise. Each answer must be

- 2xx (the request happened to be valid) or a 4xx JSON error, never a 5xx nor an exception out of
  the handler; a 400 names its field (``error.details[0].field``; the NPS seed's shape: a message);
- free of a traceback in the captured output (stdout, stderr, the Powertools JSON log lines and
  every log record): no "Traceback", no ERROR "unhandled error";
- for a 4xx: the table unchanged (every item, by a Scan before and after).

Failures are collected, not raised at the first one: every case of a route runs, the smallest
input of each distinct failure is kept, and the test fails listing them (route, input, traceback
line). ``REVISIT_ROUTE_FUZZ_EXAMPLES`` (default 200) sets the cases per route.

Cheaply: one moto table and world per module (per xdist worker), put back as built before each
route (so a route's cases do not depend on which routes ran before it on the worker); the
credential cache on, as deployed; the per-case snapshot read from moto's table (a Scan through
moto costs 0.1-0.5 s; one at each route's start and end checks the snapshot against it). The
report (cases and statuses per route) is printed - each route's line, and the whole table at the
module's end: ``-s`` shows them without xdist, ``-rP`` each route's line with it - and merged
into tests/artifacts/route_fuzz.json by every worker of the run.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import fcntl
import functools
import io
import json
import logging
import os
import re
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from revisit_dev import openapi
from revisit_dev.template import create_table_from_template, load_template
from tests.support import ROOT, Context, api_event, function, invoke
from tests.world import World, build_world

EXAMPLES = int(os.environ.get("REVISIT_ROUTE_FUZZ_EXAMPLES", "200"))
TABLE = os.environ.get("TABLE_NAME", "revisit-unit")
ARTIFACT = ROOT / "tests" / "artifacts" / "route_fuzz.json"
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


# ------------------------------------------------------------------ the routes, from the template


@dataclass(frozen=True)
class RouteSpec:
    fn: str  # functions/<fn>/app.py
    method: str  # GET, POST, ...
    path: str  # the template's path: /api/stores/{storeSlug}
    bodies: tuple[type, ...]  # the body models the handler reads (POST /api/nps/{kind}: two)
    query: type | None  # the query model
    kinds: tuple[str, ...]  # OWNER, API, PARTNER: the credentials it accepts
    params: tuple[str, ...]  # query parameters read one by one

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def _answers_json(handler: ast.FunctionDef) -> bool:
    return "json_response(" in ast.unparse(handler)


def json_routes() -> list[RouteSpec]:
    routes = []
    for fn in load_template().functions:
        if not fn.routes:
            continue
        served = openapi._handler_routes(fn.code_dir)  # the one reader of the handlers
        for tr in fn.routes:
            for r in served:
                if not openapi._same_path(r["rule"], tr.path):
                    continue
                if tr.method != "ANY" and r["method"].upper() != tr.method:
                    continue
                if not (r["body"] or r["query"] or r["kinds"] or r["params"] or _answers_json(r["handler"])):
                    continue  # an HTML page, a redirect, a static document
                routes.append(
                    RouteSpec(
                        fn=fn.code_dir.name,
                        method=r["method"].upper(),
                        path=tr.path,
                        bodies=tuple(r["body"] or ()),
                        query=r["query"],
                        kinds=tuple(dict.fromkeys(r["kinds"])),
                        params=tuple(r["params"]),
                    )
                )
    return sorted(set(routes), key=lambda r: (r.path, r.method))


ROUTES = json_routes()


# ------------------------------------------------------------------ hostile values


class Raw:
    """A literal written as it is into the JSON text (NaN, 1e400, ...): json.dumps cannot."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r})"


RAW_LITERALS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "1" + "0" * 400,
    "-" + "9" * 60,
    "0." + "0" * 300 + "1",
    "1E+9999",
    "-0",
    "1e-200",
    "1e300",
    "123456789012345678901234567890.5",
]

EXPRESSIONS = [
    "#a = :b",
    ")",
    "(",
    "begins_with(",
    "begins_with(pk, :p)",
    "attribute_exists(pk)",
    "contains(#c, :v) OR 1=1",
    "pk = :pk AND sk > :sk",
    ":v",
    "#",
    "SET #a = :b REMOVE c",
    "' OR '1'='1",
    '" OR ""="',
    "size(civ) > :zero",
    "a <> b",
    "x IN (:a, :b)",
    "BETWEEN :lo AND :hi",
    "${AWS::Region}",
    "{{7*7}}",
]

STRINGS = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid JSON (\\ud800), not encodable as UTF-8
    "\udfff\ud800",
    "\u202eevil",
    "\ufeff",
    "😀" * 20,
    "é",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00",
    "%2F..%2F",
    "null",
    "true",
    "NaN",
    "Infinity",
    "1e400",
    "-1",
    "0",
    "99999999999999999999999999999999999999999",
    "DOWNTOWN-COFFEE",
    "downtown-coffee ",
    "-",
    "a" * 65,
    "\\",
    '"',
    "{}",
    "[]",
]

HUGE = ["x" * 1000, "y" * 10_000, "é" * 40_000, "z" * 70_000, "#a = :b " * 2000]

DATES = [
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30:00+14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999-23:59",
    "10000-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2024-02-30T10:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T23:59:60Z",
    "2024-01-01T00:00:00+25:00",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00-99:99",
    "2024-01-01T00:00:00",
    "2024-01-01T00:00:00.123456789123Z",
    "2024-01-01",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2024-W01-1",
    "20240101",
    "2024-1-1",
    "now",
    "1700000000",
    "-62135596800",
    "253402300800",
    "1e20",
]

ZONES = ["Z", "+00:00", "+01:00", "-05:00", "+14:00", "-12:00", "+23:59", "-23:59", "+05:45", ""]


@st.composite
def odd_dates(draw: st.DrawFn) -> str:
    """A date or an instant at the calendar's edges, with an offset (or none)."""
    year = draw(st.sampled_from([0, 1, 2, 1969, 1970, 2026, 9998, 9999, 10000]) | st.integers(0, 10_000))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    if draw(st.booleans()):
        return f"{year:04d}-{month:02d}-{day:02d}"
    hour, minute = draw(st.integers(0, 25)), draw(st.integers(0, 61))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{draw(st.sampled_from(ZONES))}"


NUMBERS = [
    0,
    -1,
    1,
    5,
    6,
    11,
    -(2**31),
    2**31,
    2**63,
    2**64,
    10**40,
    -(10**40),
    1.5,
    4.999999999,
    5.0,
    -0.0,
    1e300,
    -1e300,
    1e-200,
    1e308,
    5e-324,
    1e38,
    9.9e125,
    1e-130,
]


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


NESTED = [nested(5), nested(40), nested(300), [[]] * 50, {"a": [{"b": [{"c": {}}]}]}]

json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

hostile_strings = (
    st.sampled_from(STRINGS + EXPRESSIONS + DATES)
    | st.sampled_from(HUGE)
    | odd_dates()
    | st.text(max_size=80)
    | st.from_regex(r"[#:()=<>A-Za-z ]{1,40}", fullmatch=True)
)
hostile_values = (
    hostile_strings
    | st.sampled_from([None, True, False, [], {}])
    | st.sampled_from(NUMBERS)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(RAW_LITERALS).map(Raw)
    | st.sampled_from(NESTED)
    | json_values
)
# Query parameters arrive as strings: everything hostile, written as a query would carry it.
query_strings = (
    hostile_strings
    | st.sampled_from(RAW_LITERALS)
    | st.sampled_from(NUMBERS).map(str)
    | st.sampled_from(["[" * 5000, '{"a":' * 100, "true", "false", "null", "[]", "{}"])
)

BODY_TEXTS = [
    "[" * 15000,
    '{"a":' * 3000,
    "[" * 6000 + "]" * 6000,
    "",
    " ",
    "null",
    "[]",
    "[{}]",
    '"a string"',
    "1",
    "1e400",
    "NaN",
    "true",
    "{",
    "}",
    "{}}",
    "{'single': 'quotes'}",
    '{"a":1,}',
    '{"a" 1}',
    "\x00",
    "\ufeff{}",
    '{"storeSlug":"downtown-coffee"}garbage',
    "a=1&storeSlug=downtown-coffee",
    "<xml/>",
    '{"a":"\\ud800"}',
    '{"a":"\\uZZZZ"}',
    '{"storeSlug":"downtown-coffee","storeSlug":"uptown-bakery"}',
    "{" + ",".join(f'"k{i}":{i}' for i in range(5000)) + "}",
    '{"a":"' + "x" * 70_000 + '"}',
]

CONTENT_TYPES = [
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=----x",
    "application/xml",
    "application/vnd.api+json",
    "*/*",
    "",
    "application/json\x00",
    None,  # no Content-Type at all
]


def to_json(value: Any) -> str:
    """``value`` as JSON text, each :class:`Raw` written as it is."""
    raws: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, Raw):
            raws.append(obj.text)
            return f"\x01RAW{len(raws) - 1}\x01"
        raise TypeError(type(obj))

    text = json.dumps(value, default=default)
    return re.sub(r'"\\u0001RAW(\d+)\\u0001"', lambda m: raws[int(m.group(1))], text)


def as_query(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return to_json(value)


# ------------------------------------------------------------------ valid values, from the models


@dataclass
class Known:
    """What exists in the table: the values a valid request would carry, by field name."""

    world: World
    values: dict[str, list[Any]] = field(default_factory=dict)
    paths: dict[str, list[str]] = field(default_factory=dict)
    delete_paths: dict[str, list[str]] = field(default_factory=dict)  # spares: the others stay
    base: dict[str, Any] = field(default_factory=dict)  # every item once the world is built (a Scan)


NOT_IN_VALID = {"cursor"}  # a valid request has none: one made up is a 400 (mutations add them)


def _valid(name: str, schema: dict[str, Any], defs: dict[str, Any], known: Known, as_string: bool) -> Any:
    """A strategy of valid values of one field (known ones first: the world's store, tokens...)."""
    if name in known.values:
        return st.sampled_from(known.values[name])
    if "$ref" in schema:
        return _valid_object(defs[schema["$ref"].rsplit("/", 1)[1]], defs, known, as_string)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return _valid(name, options[0], defs, known, as_string) if options else st.none()
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return st.sampled_from(["2026-03-01T10:00:00Z", "2026-02-01T08:30:00+01:00"])
        if fmt == "date":
            return st.sampled_from(["2026-02-01", "2026-03-01"])
        if fmt == "uri":
            return st.just("https://example.com/fuzz")
        if fmt == "uuid":
            return st.just(str(uuid.UUID(int=7)))
        if "pattern" in schema:
            lo, hi = schema.get("minLength", 1), schema.get("maxLength", 64)
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: lo <= len(s) <= hi)
        lo, hi = schema.get("minLength", 1), min(schema.get("maxLength", 40), 40)
        return st.text("abcdefghij XYZ", min_size=max(lo, 1), max_size=max(hi, 1)).filter(lambda s: s.strip())
    if kind == "integer":
        return st.integers(schema.get("minimum", 0), min(schema.get("maximum", 1000), 1000))
    if kind == "number":
        return st.floats(schema.get("minimum", 0), min(schema.get("maximum", 1000.0), 1000.0)).map(
            lambda f: round(f, 2)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        item = _valid(name, schema.get("items", {}), defs, known, as_string)
        return st.lists(item, min_size=schema.get("minItems", 0) or 1, max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object" or "properties" in schema:
        return _valid_object(schema, defs, known, as_string)
    return st.text("abc", min_size=1, max_size=5)


def _valid_object(schema: dict[str, Any], defs: dict[str, Any], known: Known, as_string: bool) -> Any:
    required = set(schema.get("required") or ())
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k in required or k not in NOT_IN_VALID}
    fields = {k: _valid(k, v, defs, known, as_string) for k, v in props.items()}
    if as_string:
        fields = {k: s.map(as_query) for k, s in fields.items()}
    return st.fixed_dictionaries(
        {k: s for k, s in fields.items() if k in required},
        optional={k: s for k, s in fields.items() if k not in required},
    )


def field_paths(schema: dict[str, Any], defs: dict[str, Any]) -> list[tuple[str, ...]]:
    """The fields of a model, and one level into the nested objects (payload.orderId, rule.minAmount)."""
    out: list[tuple[str, ...]] = []
    for name, spec in (schema.get("properties") or {}).items():
        out.append((name,))
        refs = [spec, *(spec.get("anyOf") or [])]
        for ref in (r["$ref"] for r in refs if "$ref" in r):
            inner = defs[ref.rsplit("/", 1)[1]]
            out += [(name, sub) for sub in inner.get("properties") or {}]
    return out


@functools.cache
def model_schema(model: type) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)  # type: ignore[attr-defined]
    return schema, schema.get("$defs") or {}


# ------------------------------------------------------------------ one case


@dataclass
class Case:
    creds: str
    headers: dict[str, str]
    path_values: dict[str, str]
    query: dict[str, str] | None
    body: str | None
    base64: bool
    notes: list[str]

    def size(self) -> int:
        return len(json.dumps([self.headers, self.path_values, self.query, self.body], default=str))

    def describe(self, route: RouteSpec) -> dict[str, Any]:
        body = self.body
        if body is not None and len(body) > 240:
            body = f"{body[:200]}... ({len(body)} chars)"
        query = {k: (v if len(v) <= 120 else f"{v[:80]}... ({len(v)} chars)") for k, v in (self.query or {}).items()}
        return {
            "route": route.id,
            "path": fill_path(route.path, self.path_values),
            "credentials": self.creds,
            "headers": {k: v[:120] for k, v in self.headers.items() if k.lower() not in CREDENTIAL_HEADERS},
            "query": query or None,
            "body": body,
            "isBase64Encoded": self.base64,
            "mutations": self.notes,
        }


CREDENTIAL_HEADERS = {"authorization", "x-workspace-id", "x-api-key", "x-api-secret"}


def fill_path(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def credentials(route: RouteSpec, known: Known) -> Any:
    """Mostly a valid credential of a kind the route accepts; sometimes none, or a wrong one."""
    w = known.world
    partner = {"X-API-KEY": w.partner_key, "X-API-SECRET": w.partner_secret}
    right = {
        "OWNER": [("owner", w.owner_headers())],
        "API": [("store key", {"x-api-key": w.store_key}), ("workspace key", {"x-api-key": w.workspace_key})],
        "PARTNER": [("partner", partner)],
    }
    good = [c for kind in route.kinds for c in right[kind]]
    wrong = [
        ("none", {}),
        ("other store's key", {"x-api-key": w.other_store_key}),
        ("foreign workspace key", {"x-api-key": w.foreign_key}),
        ("foreign owner", {"Authorization": f"Bearer {w.foreign_owner_token}", "x-workspace-id": w.workspace_id}),
        ("owner, no workspace", {"Authorization": f"Bearer {w.owner_token}"}),
        ("bearer garbage", {"Authorization": "Bearer #a = :b", "x-workspace-id": ")"}),
        ("basic", {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}),
        ("key garbage", {"x-api-key": "rk_" + "x" * 5000}),
        ("key expression", {"x-api-key": "begins_with(pk, :p)"}),
        ("partner key only", {"X-API-KEY": w.partner_key}),
        ("partner, wrong secret", {"X-API-KEY": w.partner_key, "X-API-SECRET": "\x00" * 3}),
        ("shop secret as key", {"x-api-key": w.shop_secret}),
    ]
    wrong += [c for kind, cs in right.items() if kind not in route.kinds for c in cs]  # another kind
    if not good:  # the token, the shop's secret or the device id is the credential: in the body or query
        return st.sampled_from([("none", {})] * 4 + wrong)
    return st.sampled_from(good * (3 * len(wrong) // len(good) + 1) + wrong)  # ~3 in 4 right


def body_strategy(route: RouteSpec, known: Known) -> Any:
    """A function of the path values to a strategy of (text or None, isBase64Encoded, notes): a
    valid body with 0-3 hostile mutations (a field's value, a literal, a field dropped or added,
    a deep value, a wrong type), rendered as JSON or replaced by hostile text or bytes."""
    models = {}
    for model in route.bodies:
        schema, defs = model_schema(model)
        models[model] = (_valid_object(schema, defs, known, as_string=False), field_paths(schema, defs))
    mutation = st.sampled_from(["hostile", "hostile", "hostile", "raw", "drop", "extra", "nest", "type"])
    values = {
        "hostile": hostile_values,
        "raw": st.sampled_from(RAW_LITERALS).map(Raw),
        "nest": st.sampled_from(NESTED),
        "type": st.sampled_from([None, True, 1, 1.5, "1", [], {}, ["a"], {"a": 1}]),
    }
    extra_names = st.sampled_from(["extra", "__proto__", "pk", "sk", "workspaceId", "#a", ""]) | st.text(max_size=12)
    renders = st.sampled_from(["json"] * 7 + ["text", "text", "bytes", "b64json", "toplevel"])
    junk = st.sampled_from(BODY_TEXTS) | json_values.map(to_json)
    odd_bytes = st.binary(max_size=300) | st.sampled_from(
        [b'{"storeSlug":"\xff"}', b"\xc3\x28", b"\xed\xa0\x80", b"\xfe\xff{}", b"{\x80}"]
    )

    @st.composite
    def draw_body(draw: st.DrawFn, path_values: dict[str, str], notes: list[str]) -> tuple[str | None, bool]:
        if not route.bodies:
            if draw(st.integers(0, 9)) < 7:
                return None, False
            notes.append("unexpected body")
            return draw(junk), False
        model = route.bodies[0]
        if len(route.bodies) > 1 and path_values.get("kind") == "channels":
            model = route.bodies[1]
        valid, paths = models[model]
        data = dict(draw(valid))
        for _ in range(draw(st.integers(0, 3))):
            what = draw(mutation)
            where = draw(st.sampled_from(paths)) if paths else ("x",)
            target = data
            for part in where[:-1]:
                if not isinstance(target.get(part), dict):
                    target[part] = {}
                target = target[part]
            if what == "drop":
                if data:
                    gone = draw(st.sampled_from(sorted(data)))
                    data.pop(gone)
                    notes.append(f"drop {gone}")
            elif what == "extra":
                name = draw(extra_names)
                target[name] = draw(hostile_values)
                notes.append(f"extra {'.'.join((*where[:-1], name))!r}")
            else:
                target[where[-1]] = draw(values[what])
                notes.append(f"{what} {'.'.join(where)}={_short(target[where[-1]])}")
        render = draw(renders)
        if render == "json":
            return to_json(data), False
        notes.append(f"body {render}")
        if render == "text":
            return draw(st.sampled_from(BODY_TEXTS)), False
        if render == "b64json":
            return base64.b64encode(to_json(data).encode("utf-8", "surrogatepass")).decode(), True
        if render == "bytes":
            raw = draw(odd_bytes)
            return (base64.b64encode(raw).decode() if draw(st.integers(0, 5)) else "!!not base64!!"), True
        return to_json(draw(st.sampled_from([[data], "x", 1, None, True, [], [1, 2]]))), False

    return draw_body


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} chars)"


FILTERS = ("q", "orderId", "civ")


def query_strategy(route: RouteSpec, known: Known) -> Any:
    """(query or None) with notes: valid parameters with 0-3 hostile ones (any value, expression
    syntax in the filters, one dropped, one added)."""
    names: list[str] = list(route.params)
    valid = st.just({})
    if route.query is not None:
        schema, defs = model_schema(route.query)
        valid = _valid_object(schema, defs, known, as_string=True)
        names += list(schema.get("properties") or {})
    names = names or ["storeSlug", "limit", "cursor"]
    filters = [n for n in names if n in FILTERS] or names
    mutation = st.sampled_from(["hostile", "hostile", "expression", "drop", "extra"])
    extra_names = st.sampled_from(["extra", "from_", "FROM", "shop_secret", "#a", ""]) | st.text(max_size=10)
    expressions = st.sampled_from(EXPRESSIONS) | st.from_regex(r"[#:() =A-Za-z,]{1,30}", fullmatch=True)

    @st.composite
    def draw_query(draw: st.DrawFn, notes: list[str]) -> dict[str, str] | None:
        base: dict[str, str] = dict(draw(valid))
        for name in route.params:
            if name in known.values and draw(st.booleans()):
                base[name] = as_query(draw(st.sampled_from(known.values[name])))
        for _ in range(draw(st.integers(0, 3))):
            what = draw(mutation)
            if what == "drop" and base:
                gone = draw(st.sampled_from(sorted(base)))
                base.pop(gone)
                notes.append(f"drop {gone}")
            elif what == "extra":
                name = draw(extra_names)
                base[name] = draw(query_strings)
                notes.append(f"extra param {name!r}")
            elif what == "expression":
                name = draw(st.sampled_from(filters))
                base[name] = draw(expressions)
                notes.append(f"expression {name}={base[name]!r}")
            else:
                name = draw(st.sampled_from(names))
                base[name] = draw(query_strings)
                notes.append(f"hostile {name}={_short(base[name])}")
        return base or None

    return draw_query


def cases(route: RouteSpec, known: Known) -> Any:
    """The strategy of one route's cases (built once: hypothesis draws from it EXAMPLES times)."""
    creds = credentials(route, known)
    bodies = body_strategy(route, known)
    queries = query_strategy(route, known)
    odd_path = st.sampled_from(["x", "%00", "..", "a b", "#a = :b", ")", "ü", "A" * 2000, "k" * 129]) | st.from_regex(
        r"[A-Za-z0-9_\-.~:@!$&'()*+,;=%]{1,80}", fullmatch=True
    )
    own = known.paths | (known.delete_paths if route.method == "DELETE" else {})
    known_paths = {name: st.sampled_from(own[name]) for name in route.path_params if own.get(name)}
    content_types = st.sampled_from(CONTENT_TYPES)
    idempotency = hostile_strings | st.uuids().map(str)

    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        notes: list[str] = []
        label, headers = draw(creds)
        headers = dict(headers)
        path_values = {}
        for name in route.path_params:
            if name in known_paths and draw(st.integers(0, 3)):
                path_values[name] = draw(known_paths[name])
            else:
                path_values[name] = draw(odd_path)
                notes.append(f"path {name}={_short(path_values[name])}")
        text, b64 = draw(bodies(path_values, notes))
        query = draw(queries(notes))
        content_type = draw(content_types) if text is not None else None
        if content_type is not None:
            headers["Content-Type"] = content_type
            if content_type != "application/json":
                notes.append(f"Content-Type {content_type!r}")
        if route.method != "GET" and draw(st.integers(0, 4)) == 0:
            headers["Idempotency-Key"] = draw(idempotency)
            notes.append("Idempotency-Key")
        if draw(st.integers(0, 9)) == 0:
            headers["Accept-Language"] = draw(hostile_strings)
        return Case(label, headers, path_values, query, text, b64, notes)

    return draw_case()


# ------------------------------------------------------------------ running a case


class Captured:
    """Everything a handler prints or logs while it runs: stdout, stderr, the Powertools logger's
    stream and every log record (formatted with its traceback)."""

    def __enter__(self) -> Captured:
        self.buffer = io.StringIO()
        self.records: list[str] = []
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self.buffer))
        self._stack.enter_context(contextlib.redirect_stderr(self.buffer))
        self._swapped: list[tuple[logging.StreamHandler, Any]] = []
        for lg in _loggers():
            for handler in lg.handlers:
                if type(handler) is logging.StreamHandler:
                    self._swapped.append((handler, handler.setStream(self.buffer)))
        outer = self

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                text = f"{record.levelname} {record.getMessage()}"
                if record.exc_info:
                    text += "\n" + logging.Formatter().formatException(record.exc_info)
                outer.records.append(text)

        self._keep = Keep(logging.WARNING)
        logging.getLogger().addHandler(self._keep)
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().removeHandler(self._keep)
        for handler, stream in self._swapped:
            handler.setStream(stream)
        self._stack.close()

    @property
    def text(self) -> str:
        return self.buffer.getvalue() + "\n".join(self.records)


def _loggers() -> list[logging.Logger]:
    from revisit.observability import logger

    return [logger._logger, logging.getLogger()]


def trouble(output: str) -> str | None:
    """The traceback (its last frame in the project and its exception) or the ERROR "unhandled
    error" line in a handler's output, if any."""
    bad = "Traceback" in output
    for line in output.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if doc.get("level") in ("ERROR", "CRITICAL") and "unhandled" in str(doc.get("message")):
                    bad = True
                    output += "\n" + str(doc.get("exception") or "")
        elif line.startswith("ERROR unhandled"):
            bad = True
    if not bad:
        return None
    return traceback_line(output) or "ERROR unhandled error (no traceback)"


def traceback_line(text: str) -> str | None:
    """The project's frames of the last traceback in ``text`` (outermost first) and its exception."""
    last = text.rsplit("Traceback (most recent call last)", 1)[-1]
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', last)
    ours = [f for f in frames if "/site-packages/" not in f[0] and "/lib/python" not in f[0]] or frames[-1:]
    where = []
    for file, line, func in ours[-6:]:
        shown = file
        with contextlib.suppress(ValueError):
            shown = str(Path(file).resolve().relative_to(ROOT))
        where.append(f"{shown}:{line} in {func}")
    finals = [ln.strip() for ln in last.splitlines() if re.match(r"\s*\w+(\.\w+)*(Error|Exception|Exit)\b.*", ln)]
    parts = [" > ".join(where), finals[-1][:300] if finals else ""]
    return " - ".join(p for p in parts if p) or None


def scan(client: Any) -> dict[str, Any]:
    """Every item of the table, by a Scan."""
    items: dict[str, Any] = {}
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            items[json.dumps([item.get("pk"), item.get("sk")], sort_keys=True)] = item
    return items


def snapshot() -> dict[str, Any]:
    """Every item of the table, every attribute, as moto holds it: the same items a Scan returns
    (checked by one at the start and the end of each route) at ~1/100 of its cost - moto's
    response serializer takes 0.1-0.5 s to Scan 50 items, which at 200 cases per route would be
    most of the run."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    items: dict[str, Any] = {}
    for item in dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(TABLE).all_items():
        attrs = item.to_json()["Attributes"]
        items[json.dumps([attrs.get("pk"), attrs.get("sk")], sort_keys=True)] = attrs
    return items


def restore(client: Any, base: dict[str, Any]) -> None:
    """Put the table back as ``base`` (a Scan) was: each route starts from the same items, whatever
    ran before it on this worker (and the table stays small: snapshots stay cheap)."""
    keys = [k["AttributeName"] for k in client.describe_table(TableName=TABLE)["Table"]["KeySchema"]]
    now = scan(client)
    for name, item in now.items():
        if name not in base:
            client.delete_item(TableName=TABLE, Key={k: item[k] for k in keys})
    for name, item in base.items():
        if now.get(name) != item:
            client.put_item(TableName=TABLE, Item=item)


def same_items(scanned: dict[str, Any], held: dict[str, Any]) -> bool:
    return {k: sorted(v) for k, v in scanned.items()} == {k: sorted(v) for k, v in held.items()}


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = [f"added {k}" for k in after.keys() - before.keys()]
    changes += [f"removed {k}" for k in before.keys() - after.keys()]
    changed = [k for k in before.keys() & after.keys() if before[k] != after[k]]
    for k in changed:
        attrs = sorted(a for a in set(before[k]) | set(after[k]) if before[k].get(a) != after[k].get(a))
        changes.append(f"changed {k}: {', '.join(attrs)}")
    return sorted(changes)


def check(route: RouteSpec, status: int, headers: dict[str, str], text: str) -> str | None:
    """What is wrong with a 4xx answer's shape, if anything."""
    if "json" not in headers.get("content-type", ""):
        return f"{status} with Content-Type {headers.get('content-type')!r}"
    try:
        doc = json.loads(text)
    except ValueError:
        return f"{status} whose body is not JSON: {text[:120]!r}"
    if not isinstance(doc, dict):
        return f"{status} whose body is not an object"
    if route.path.startswith("/nps/"):
        if doc.get("status") != "error" or not str(doc.get("message") or "").strip():
            return f"{status} without the seed's error shape: {text[:200]}"
        return None
    error = doc.get("error")
    if not isinstance(error, dict) or not error.get("code") or not error.get("message"):
        return f"{status} without an error code and message: {text[:200]}"
    if status == 400:
        details = error.get("details") or []
        if not details or not isinstance(details[0], dict) or not str(details[0].get("field") or "").strip():
            return f"400 naming no field: {text[:200]}"
    return None


@dataclass
class Failure:
    kind: str  # 5xx, exception, traceback, partial write, shape
    detail: str
    case: Case
    status: int | None


# ------------------------------------------------------------------ the world the cases run in


@pytest.fixture(scope="module")
def table():
    """One table for the module (the conftest's is one per test): the world is built once and
    the cases of every route run against it."""
    from revisit.config import settings
    from revisit.domain import auth, nps, workspaces

    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table_from_template(client, TABLE)
    # As deployed: positive credential look-ups kept for the revocation bound (the unit tests' 0
    # reads every credential again; here that would be a third of the run).
    cache_seconds = os.environ.get("CREDENTIAL_CACHE_SECONDS")
    os.environ["CREDENTIAL_CACHE_SECONDS"] = "30"
    settings.cache_clear()
    auth.clear_cache()
    nps.clear_cache()
    workspaces._store_cache.clear()
    try:
        yield client
    finally:
        if cache_seconds is None:
            os.environ.pop("CREDENTIAL_CACHE_SECONDS", None)
        else:
            os.environ["CREDENTIAL_CACHE_SECONDS"] = cache_seconds
        settings.cache_clear()
        auth.clear_cache()
        client.delete_table(TableName=TABLE)


def _call(fn: str, method: str, path: str, body: Any = None, headers=None, query=None, resource=None, params=None):
    reply = invoke(
        fn, api_event(method, path, body=body, headers=headers, query=query, resource=resource, path_params=params)
    )
    assert reply.status < 300, f"{method} {path}: {reply.status} {reply.text}"
    return reply.json


@pytest.fixture(scope="module")
def known(table) -> Known:
    """The world, and what valid requests name: its store, a survey, a campaign and a one-time
    token, NPS category and channel codes, a purchase with a tracker, a device id, a webhook."""
    w = build_world()
    owner = w.owner_headers()
    partner = {"X-API-KEY": w.partner_key, "X-API-SECRET": w.partner_secret}
    survey = _call(
        "management",
        "POST",
        "/api/surveys",
        {"storeSlug": w.store, "name": "Fuzz", "sendingType": "external"},
        owner,
    )
    campaign = _call("management", "POST", "/api/campaigns", {"storeSlug": w.store, "name": "QR"}, owner)
    one_time = _call(
        "token",
        "POST",
        "/api/external/token",
        {"storeSlug": w.store, "payload": {"orderId": "O-FUZZ", "civ": "CIV-FUZZ"}},
        {"x-api-key": w.store_key},
    )
    for kind, code in (("categories", "fz-cat"), ("channels", "fz-chan")):
        _call(
            "management",
            "POST",
            f"/api/nps/{kind}",
            {"storeSlug": w.store, "code": code, "name": code},
            owner,
            resource="/api/nps/{kind}",
            params={"kind": kind},
        )
    purchased = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"purchaseId": "P-FUZZ", "customerId": "C-FUZZ", "storeSlug": w.store, "purchasedAt": purchased}
    _call("purchases", "POST", "/partners/purchases", body, partner)
    generated = _call(
        "tracker_generate", "POST", "/partners/survey-tracker/generate", {"purchaseId": "P-FUZZ"}, partner
    )
    device = _call("nps_public", "GET", "/nps/init", query={"shop_id": w.shop_id})
    spare = _call("management", "POST", "/api/keys", {"scope": "store", "storeSlug": w.store}, owner)
    spare_campaign = _call("management", "POST", "/api/campaigns", {"storeSlug": w.store, "name": "Spare"}, owner)
    hooks = []
    if any(r.fn == "webhooks" for r in ROUTES):
        for _ in range(2):
            hook = {"url": "https://hooks.example.com/fuzz", "events": ["feedback.created"]}
            made = _call("webhooks", "POST", "/api/webhooks", hook, owner)
            hooks.append(made.get("webhookId") or made.get("id"))
    tracker_ids = [t["id"] for t in generated["items"]]
    values: dict[str, list[Any]] = {
        "storeSlug": [w.store, w.store, w.store, w.other_store],
        "shop_id": [w.shop_id],
        "shop_secret": [w.shop_secret],
        "did": [device["did"]],
        "token": [campaign["token"], campaign["token"], one_time["token"]],
        "purchaseId": ["P-FUZZ", "P-FUZZ", "P-FUZZ", *(f"P-NEW-{i}" for i in range(8))],
        "customerId": ["C-FUZZ"],
        "id": tracker_ids,
        "channel": ["fz-chan"],
        "category": ["fz-cat"],
        "url": ["https://hooks.example.com/fuzz"],
        "timezone": ["Europe/Paris", "UTC"],
        "locale": ["fr", "en"],
        "brandColor": ["#112233"],
        "orderId": ["O-FUZZ"],
        "civ": ["CIV-FUZZ"],
        "q": ["coffee"],
    }
    paths = {
        "storeSlug": [w.store, w.other_store],
        "kind": ["categories", "channels"],
        "code": ["fz-cat", "fz-chan"],
        "surveyId": [survey["surveyId"]],
        "campaignId": [campaign["campaignId"]],
        "keyId": [spare["keyId"]],
        "webhookId": hooks[:1],
        "deliveryId": ["dlv_" + "0" * 20],
    }
    delete_paths = {"campaignId": [spare_campaign["campaignId"]], "webhookId": hooks[1:]}
    return Known(world=w, values=values, paths=paths, delete_paths=delete_paths, base=scan(table))


REPORT: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def report(known):
    yield REPORT
    if REPORT:
        write_report(REPORT)


def write_report(found: dict[str, dict[str, Any]]) -> None:
    """Merge this worker's routes into tests/artifacts/route_fuzz.json (one file per run: a
    worker of another run starts it anew) and print the whole table."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(ARTIFACT.read_text())
        if doc.get("run") != RUN_ID:
            doc = {"run": RUN_ID, "examplesPerRoute": EXAMPLES, "routes": {}}
        doc["routes"].update(found)
        doc["routes"] = dict(sorted(doc["routes"].items(), key=lambda kv: kv[0].split(" ", 1)[::-1]))
        doc["totalCases"] = sum(r["cases"] for r in doc["routes"].values())
        doc["failures"] = sum(len(r["failures"]) for r in doc["routes"].values())
        ARTIFACT.write_text(json.dumps(doc, indent=2))  # ASCII: cases may hold lone surrogates
    print(render_report(doc))


def render_report(doc: dict[str, Any]) -> str:
    lines = [f"\nroute fuzzing: {doc['totalCases']} cases over {len(doc['routes'])} routes ({ARTIFACT})"]
    for route, r in doc["routes"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r["statuses"].items()))
        flag = f"  FAILURES {len(r['failures'])}" if r["failures"] else ""
        lines.append(f"  {route:<62} {r['cases']:>4} cases  {r['seconds']:>5.1f} s  [{statuses}]{flag}")
    return "\n".join(lines)


# ------------------------------------------------------------------ the test


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_hostile_requests_get_a_4xx_json_error_and_change_nothing(route: RouteSpec, table, known, report):
    from revisit.domain import auth, nps, workspaces

    restore(table, known.base)  # every route starts from the world as built
    auth.clear_cache()
    nps.clear_cache()
    workspaces._store_cache.clear()
    handler = function(route.fn).lambda_handler
    statuses: Counter[int] = Counter()
    failures: dict[tuple[str, str], Failure] = {}
    state = {"before": snapshot()}
    assert same_items(scan(table), state["before"]), "the snapshot differs from a Scan"
    began = time.monotonic()

    def fail(kind: str, detail: str, case: Case, status: int | None) -> None:
        key = (kind, re.sub(r"[0-9a-f]{6,}|\d+", "N", detail)[:200])
        if key not in failures or case.size() < failures[key].case.size():
            failures[key] = Failure(kind, detail, case, status)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(route, known))
    def run(case: Case) -> None:
        path = fill_path(route.path, case.path_values)
        event = api_event(
            route.method,
            path,
            resource=route.path,
            query=case.query,
            path_params=case.path_values or None,
        )
        event["headers"] = dict(case.headers)
        event["multiValueHeaders"] = {k: [v] for k, v in case.headers.items()}
        event["body"] = case.body
        event["isBase64Encoded"] = case.base64
        with Captured() as out:
            try:
                answer = handler(event, Context())
            except Exception as exc:  # out of the handler: Lambda's 502
                answer = None
                escaped = "".join(traceback.format_exception(exc))
        if answer is None:
            statuses[502] += 1
            fail("exception out of the handler", traceback_line(escaped) or repr(escaped[-300:]), case, None)
            state["before"] = snapshot()
            return
        status = answer["statusCode"]
        statuses[status] += 1
        headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        for k, v in (answer.get("multiValueHeaders") or {}).items():
            headers.setdefault(k.lower(), v[-1])
        text = answer.get("body") or ""
        logged = trouble(out.text)
        if status >= 500:
            fail("5xx", f"{status}: {logged or text[:200]}", case, status)
        elif logged:
            fail("traceback in the log", logged, case, status)
        if "Traceback" in text:
            fail("traceback in the body", text[:200], case, status)
        after = snapshot()
        if 400 <= status < 500:
            problem = check(route, status, headers, text)
            if problem:
                fail("error shape", problem, case, status)
            changes = diff(state["before"], after)
            if changes:
                fail("partial write", f"{status}: {'; '.join(changes[:6])}", case, status)
        elif status >= 500:
            changes = diff(state["before"], after)
            if changes:
                fail("partial write", f"{status}: {'; '.join(changes[:6])}", case, status)
        state["before"] = after

    run()
    assert same_items(scan(table), snapshot()), "the snapshot differs from a Scan"
    cases_run = sum(statuses.values())
    found = [
        {"kind": f.kind, "status": f.status, "detail": f.detail, "input": f.case.describe(route)}
        for f in sorted(failures.values(), key=lambda f: (f.kind, f.detail))
    ]
    report[route.id] = {
        "function": route.fn,
        "cases": cases_run,
        "seconds": round(time.monotonic() - began, 1),
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "failures": found,
    }
    print(f"\n{route.id}: {cases_run} cases, statuses {dict(sorted(statuses.items()))}, {len(found)} failures")
    if found:  # the list, not a traceback of this test: each failure is the handler's
        # ASCII: a case may hold a lone surrogate, which pytest-xdist cannot carry to the controller
        listing = "\n".join(json.dumps(f, default=str) for f in found)
        pytest.fail(f"{route.id}: {len(found)} distinct failures\n{listing}", pytrace=False)
    assert cases_run >= EXAMPLES, f"{route.id}: only {cases_run} cases"
