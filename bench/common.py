"""What every phase of the benchmark shares: configuration, environment, moto, call meter, statistics.

Nothing here imports ``revisit``: the data layer makes its boto3 client at import, so a phase
sets its environment (and starts moto) first, as tests/unit/conftest.py does.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from revisit_dev.lambda_context import LambdaContext

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
TABLE = "revisit-bench"
BASELINE_TABLE = "revisit-bench-baseline"
HASH_SECRET = "bench-hash-secret"
PUBLIC_BASE_URL = "https://fb.example.com"


# ------------------------------------------------------------------ configuration


@dataclasses.dataclass
class Config:
    """Sizes and repetitions of one run (``make bench`` uses the defaults; the smoke test a tiny one)."""

    cold_reps: int = 20  # fresh processes per function (the issue asks for >= 5)
    cold_lanes: int = 2  # processes at a time, one per core
    cold_baseline_every: int = 4  # a baseline process before every N candidate processes
    cold_functions: list[str] | None = None  # None = every function of the template
    shipped_reps: int = 2  # cold start with the layer's code not byte-compiled, as sam build ships it
    shipped_functions: list[str] = dataclasses.field(default_factory=lambda: ["token", "dashboard"])
    memory_requests: int = 1000
    memory_functions: list[str] | None = None
    latency_iterations: int = 1000
    latency_warmup: int = 10
    endpoints: list[str] | None = None  # None = every endpoint scenario
    aggregator_records: int = 10_000
    aggregator_replay_share: float = 0.2
    aggregator_batch: int = 100  # the template's BatchSize
    growth_sizes: list[int] = dataclasses.field(default_factory=lambda: [1_000, 10_000, 100_000])
    growth_period_records: int = 1_000  # records in the dashboard's 30-day period (the same in every store)
    growth_repeats: int = 15
    growth_check_records: int = 400  # records fed through the real aggregator to check the seeding
    scheduler_trackers: list[int] = dataclasses.field(default_factory=lambda: [1_000, 10_000])
    trends_store_counts: list[int] = dataclasses.field(default_factory=lambda: [1, 10, 50])  # stores view
    trends_store_records: int = 300  # responses of each store of those workspaces
    trends_import_rows: int = 2_000  # rows imported (1,000 a request) and aggregated
    scheduler_due: int = 100
    build: bool = True  # run `make build` for the sizes (False: measure .aws-sam/build as it is)
    quick: bool = False

    @classmethod
    def quick_config(cls) -> Config:
        return cls(
            cold_reps=1,
            cold_baseline_every=4,
            cold_functions=["token"],
            shipped_reps=1,
            shipped_functions=["token"],
            memory_requests=10,
            memory_functions=["token"],
            latency_iterations=10,
            latency_warmup=2,
            endpoints=[
                "token",
                "survey_page",
                "submit",
                "tracker_get",
                "nps_create",
                "dashboard",
                "nps_score",
                "aggregator",
            ],
            aggregator_records=200,
            aggregator_batch=50,
            growth_sizes=[100, 300],
            growth_period_records=80,
            growth_repeats=2,
            growth_check_records=80,
            scheduler_trackers=[100, 250],
            trends_store_counts=[1, 3],
            trends_store_records=40,
            trends_import_rows=300,
            scheduler_due=10,
            build=False,
            quick=True,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls(**json.loads(text))


def phase_args(argv: list[str] | None = None) -> tuple[Config, Path]:
    """``python -m bench.<phase> CONFIG_JSON OUT_PATH``"""
    args = sys.argv[1:] if argv is None else argv
    return Config.from_json(args[0]), Path(args[1])


def log(message: str) -> None:
    """Progress on stderr (stdout belongs to the handlers' logs, which the phases discard)."""
    phase = os.environ.get("BENCH_PHASE", "")
    print(f"  [{time.strftime('%H:%M:%S')}]{f' {phase}:' if phase else ''} {message}", file=sys.stderr, flush=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str))
    tmp.replace(path)


# ------------------------------------------------------------------ environment


def fake_aws_env(endpoint_url: str | None = None) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def function_env(logical_id: str | None = None, table: str = TABLE) -> dict[str, str]:
    """The environment template.yaml gives a function (its Globals and its own variables), with
    the benchmark's table; HASH_SECRET stands in for the Secrets Manager secret unless replaced."""
    from revisit_dev.template import load_template

    template = load_template(table_name=table)
    env = dict(template.global_env)
    if logical_id:
        env |= next(fn.env for fn in template.functions if fn.logical_id == logical_id)
    env |= {"TABLE_NAME": table, "HASH_SECRET": HASH_SECRET, "EMAIL_SENDER": "surveys@example.com"}
    env["WEBAPP_SESSION_SECRET"] = HASH_SECRET  # the web app's cookie key (a child reads it from the secret)
    return {k: str(v) for k, v in env.items()}


def use_inprocess_env(table: str = TABLE) -> None:
    """This process's environment for in-process phases: the functions' variables, fake AWS."""
    for var in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k in ("AWS_PROFILE",)]:
        del os.environ[var]
    os.environ.update(fake_aws_env())
    os.environ.update(function_env(None, table))
    os.environ["PUBLIC_BASE_URL"] = PUBLIC_BASE_URL
    os.environ["QUIET_HOURS"] = "0-0"  # the scheduler sends at any hour (the bench runs at any hour)


# ------------------------------------------------------------------ moto


_patched = False


def patch_moto() -> None:
    """moto, closer to DynamoDB's costs (never its semantics):

    * the project's transaction patch (moto otherwise deep-copies the table per transaction);
    * a Query on the table's key reads only the part of the partition its sort-key condition
      selects (moto sorts every item of the table for every Query, so its Query time grows with
      the table - DynamoDB's does not); a Query on an index starts from the items carrying the
      index's partition key instead of the whole table sorted (still one pass over the table:
      an index Query's time in moto grows with the table, DynamoDB's does not).
    """
    global _patched  # noqa: PLW0603
    if _patched:
        return
    import inspect

    from moto.dynamodb.models.table import Table

    from revisit_dev import moto_patches

    moto_patches.apply()
    original = Table.query
    signature = inspect.signature(original)
    original_put, original_delete = Table.put_item, Table.delete_item

    def sorted_keys(table: Any, hash_key: Any, partition: dict) -> tuple[list[str], list[Any]]:
        cache = table.__dict__.setdefault("_bench_sorted", {})
        hit = cache.get(hash_key)
        if hit is None:
            keys = sorted(partition, key=lambda k: k.value)
            hit = cache[hash_key] = ([k.value for k in keys], keys)
        return hit

    def candidates(table: Any, hash_key: Any, comparison: str | None, values: list[Any]) -> list[Any]:
        """The partition's items a key condition can match (a superset; moto still applies it)."""
        partition = table.items.get(hash_key) or {}
        op = (comparison or "").upper()
        if table.range_key_type != "S" or op not in ("BETWEEN", "BEGINS_WITH") or not partition:
            return list(partition.values())
        strings, keys = sorted_keys(table, hash_key, partition)
        if op == "BETWEEN":
            lo, hi = bisect.bisect_left(strings, values[0].value), bisect.bisect_right(strings, values[1].value)
        else:
            lo = bisect.bisect_left(strings, values[0].value)
            hi = bisect.bisect_right(strings, values[0].value + "\U0010ffff")
        return [partition[k] for k in keys[lo:hi] if k in partition]

    def _equal(found: Any, value: Any) -> bool:
        return found is not None and found == value

    def index_candidates(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
        """Items carrying the index's partition key (moto sorts the whole table, then filters)."""
        return [
            item
            for hash_set in table.items.values()
            for item in (hash_set.values() if table.range_key_attr else [hash_set])
            if all(_equal(item.attrs.get(attr), value) for attr, value in conditions)
        ]

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        hash_key, index = arguments.get("hash_key"), arguments.get("index_name")
        found = None
        if index is None and hash_key is not None and self.range_key_attr:
            found = candidates(self, hash_key, arguments.get("range_comparison"), arguments["range_objs"])
        elif index is not None and arguments.get("hash_key_conditions"):
            found = index_candidates(self, arguments["hash_key_conditions"])
        if found is None:
            return original(self, *args, **kwargs)
        self.all_items = lambda: found
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, item_attrs, *args, **kwargs)
        self.__dict__.get("_bench_sorted", {}).pop(item.hash_key, None)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        self.__dict__.get("_bench_sorted", {}).pop(hash_key, None)
        return original_delete(self, hash_key, range_key)

    Table.query = query
    Table.put_item = put_item
    Table.delete_item = delete_item
    _cache_dispatch()
    _patch_serializer()
    _patched = True


def _cache_dispatch() -> None:
    """moto looks up, for every request, which backend a host means (stat-ing its module
    directories) and which methods a response class has (inspect.getmembers): both are pure
    functions of their argument, so they are computed once."""
    import functools

    from moto.core import responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    by_host: dict[Any, Any] = {}
    original = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in by_host:
            by_host[host] = original(self, host)
        return by_host[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


_FAST_ACTIONS = frozenset(
    (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    )
)
serializer_checks = {"compared": 0, "different": 0}
CHECK_SAMPLE = 300


def _patch_serializer() -> None:
    """moto 5.2 serializes every response by walking botocore's output model, member by member
    (~50 ms for a page of items). For DynamoDB's data-plane actions moto's result already is the
    wire JSON, so it is dumped as is (top-level members of the output shape only), as moto did
    before 5.1. BENCH_CHECK_SERIALIZER=1 compares both serializations of each process's first
    CHECK_SAMPLE responses and fails on any difference (the smoke test does)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    plain = (ActionResult, DynamoResult)

    original = DynamoHandler.serialized
    check = os.environ.get("BENCH_CHECK_SERIALIZER") == "1"
    members_of: dict[str, frozenset[str]] = {}

    def output_members(action: str) -> frozenset[str]:
        if action not in members_of:
            import botocore.session

            shape = botocore.session.get_session().get_service_model("dynamodb").operation_model(action).output_shape
            members_of[action] = frozenset(shape.members) if shape else frozenset()
        return members_of[action]

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if type(action_result) not in plain or not isinstance(result, dict):
            return original(self, action_result)
        if self._get_action() not in _FAST_ACTIONS:
            return original(self, action_result)
        members = output_members(self._get_action())
        try:
            body = json.dumps({k: v for k, v in result.items() if k in members})
        except (TypeError, ValueError):
            return original(self, action_result)
        if check and serializer_checks["compared"] < CHECK_SAMPLE:
            status, headers, slow = original(self, action_result)
            serializer_checks["compared"] += 1
            if json.loads(slow) != json.loads(body):
                serializer_checks["different"] += 1
                raise AssertionError(f"fast serializer differs for {self._get_action()}: {slow} != {body}")
            return status, headers, body
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
        headers.update(self.response_headers)
        return 200, headers, body

    DynamoHandler.serialized = serialized


def start_mock() -> Any:
    """moto's in-process mock (call before importing revisit)."""
    patch_moto()
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    return mock


def ddb_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def moto_table(name: str) -> Any:
    return ddb_backend().get_table(name)


def create_table(client: Any, name: str, stream: bool = False) -> None:
    """The template's table. Without ``stream``, moto's stream emulation is switched off: moto
    builds every stream record inside the write call, DynamoDB does it after the response."""
    from revisit_dev.template import create_table_from_template

    create_table_from_template(client, name)
    if not stream:
        moto_table(name).stream_shard = None


def drop_table(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=name)


@contextlib.contextmanager
def fast_moto_writes() -> Iterable[None]:
    """Skip moto's per-attribute item-size re-check (quadratic in the attributes) while seeding."""
    from moto.dynamodb.models import dynamo_type

    original = dynamo_type.LimitedSizeDict.__setitem__
    dynamo_type.LimitedSizeDict.__setitem__ = dict.__setitem__
    try:
        yield
    finally:
        dynamo_type.LimitedSizeDict.__setitem__ = original


def bulk_put(table_name: str, items: Iterable[dict[str, Any]]) -> int:
    """Seed items (already in DynamoDB JSON) straight into moto's table, as BatchWriteItem would
    after parsing the request. Seeding only: nothing measured goes through here."""
    table = moto_table(table_name)
    count = 0
    with fast_moto_writes():
        for item in items:
            table.put_item(item, overwrite=True)
            count += 1
    return count


def copy_table(source: str, target: str) -> int:
    items = [i.to_json()["Attributes"] for i in moto_table(source).all_items()]
    return bulk_put(target, items)


def peek(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """An item as moto holds it (DynamoDB JSON), read without an API call (not counted)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = moto_table(table_name)
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_key, range_key)
    return item.to_json()["Attributes"] if item else None


# ------------------------------------------------------------------ item sizes and capacity units


def value_size(value: Any) -> int:
    """Bytes of one attribute value, by DynamoDB's documented rules."""
    if not isinstance(value, dict) or len(value) != 1:
        return len(str(value).encode())
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = str(v).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(value_size({"N": x}) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(value_size(x) + 1 for x in v)
    return len(json.dumps(v, default=str).encode())


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclasses.dataclass(frozen=True)
class Index:
    name: str
    hash_attr: str
    range_attr: str | None
    keys_only: bool


def table_indexes() -> list[Index]:
    from revisit_dev.template import load_template

    kwargs = load_template().table_create_kwargs("x")
    out = []
    for gsi in kwargs.get("GlobalSecondaryIndexes", []):
        schema = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
        out.append(
            Index(gsi["IndexName"], schema["HASH"], schema.get("RANGE"), gsi["Projection"]["ProjectionType"] != "ALL")
        )
    return out


def _index_writes(indexes: list[Index], old: dict | None, new: dict | None) -> int:
    """Write units the table's GSIs consume for one item changing from ``old`` to ``new``."""
    total = 0
    for ix in indexes:

        def keys_of(item: dict | None, ix: Index = ix) -> tuple | None:
            if not item or ix.hash_attr not in item or (ix.range_attr and ix.range_attr not in item):
                return None
            return (json.dumps(item[ix.hash_attr]), json.dumps(item.get(ix.range_attr)) if ix.range_attr else None)

        before, after = keys_of(old), keys_of(new)
        if before is None and after is None:
            continue
        size = item_size(new if after is not None else old)
        if ix.keys_only:
            size = 100  # keys and the table's keys only
            if before == after:
                continue  # projected attributes unchanged: nothing to write to the index
        if before is not None and after is not None and before != after:
            total += 2 * _write_units(size)  # the old index entry deleted, a new one put
        else:
            total += _write_units(size)
    return total


class Meter:
    """DynamoDB calls of one botocore client, counted exactly, and their capacity units.

    Counting is a ``before-call`` hook: botocore emits it once per API call (retries happen
    below it). ``capture`` keeps each call's parameters (references, no copies) so a baseline can
    replay them. ``capacity`` estimates the read and write request units of every call from the
    items it read or wrote, by DynamoDB's rules (see docs/cost.md); it peeks moto's table before
    and after each write, without API calls.
    """

    _WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")

    def __init__(self, client: Any, capture: bool = False, capacity: bool = False) -> None:
        self.client = client
        self.capture = capture or capacity
        self.capacity = capacity
        self.indexes = table_indexes() if capacity else []
        self.reset()

    def reset(self) -> None:
        self.ops: list[str] = []
        self.params: list[dict[str, Any]] = []
        self.failed: list[bool] = []  # with capture: whether each call returned an error
        self.read_units = 0.0
        self.write_units = 0.0
        self.estimated = False  # a filtered Query's unreturned items were estimated
        self._last_params: dict[str, Any] | None = None
        self._old: list[tuple[str, dict, dict | None]] = []

    # hooks
    def _on_params(self, params: dict[str, Any], **_: Any) -> None:
        self._last_params = params

    def _on_call(self, model: Any, **_: Any) -> None:
        self.ops.append(model.name)
        if self.capture:
            self.params.append(self._last_params or {})
        if self.capacity and model.name in self._WRITES:
            self._old = [(t, k, peek(t, k)) for t, k, _ in self._targets(model.name, self._last_params or {})]

    def _on_result(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.failed.append("Error" in (parsed or {}))
        if self.capacity:
            self._account(model.name, self._last_params or {}, parsed or {})

    def __enter__(self) -> Meter:
        events = self.client.meta.events
        if self.capture:
            events.register("before-parameter-build.dynamodb", self._on_params, unique_id="bench-params")
        events.register("before-call.dynamodb", self._on_call, unique_id="bench-count")
        if self.capture:
            events.register("after-call.dynamodb", self._on_result, unique_id="bench-capacity")
        return self

    def __exit__(self, *exc: Any) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.dynamodb", unique_id="bench-params")
        events.unregister("before-call.dynamodb", unique_id="bench-count")
        events.unregister("after-call.dynamodb", unique_id="bench-capacity")

    @property
    def calls(self) -> int:
        return len(self.ops)

    def breakdown(self) -> str:
        counts = Counter(self.ops)
        return " + ".join(f"{n} {op}" if n > 1 else op for op, n in counts.items()) or "none"

    # capacity
    @staticmethod
    def _targets(op: str, params: dict[str, Any]) -> list[tuple[str, dict, str]]:
        """(table, key, action) of every item a write touches."""

        def key_of(table: str, item: dict) -> dict:
            t = moto_table(table)
            key = {t.hash_key_attr: item[t.hash_key_attr]}
            if t.range_key_attr:
                key[t.range_key_attr] = item[t.range_key_attr]
            return key

        out = []
        if op == "PutItem":
            out.append((params["TableName"], key_of(params["TableName"], params["Item"]), "Put"))
        elif op in ("UpdateItem", "DeleteItem"):
            out.append((params["TableName"], params["Key"], op[:-4]))
        elif op == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((action, body),) = entry.items()
                key = key_of(body["TableName"], body["Item"]) if action == "Put" else body["Key"]
                out.append((body["TableName"], key, action))
        elif op == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for r in requests:
                    if "PutRequest" in r:
                        out.append((table, key_of(table, r["PutRequest"]["Item"]), "Put"))
                    else:
                        out.append((table, r["DeleteRequest"]["Key"], "Delete"))
        return out

    def _account(self, op: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if op == "GetItem":
            self.read_units += _read_units(item_size(parsed.get("Item")), consistent)
        elif op == "BatchGetItem":
            for table, spec in params.get("RequestItems", {}).items():
                found = parsed.get("Responses", {}).get(table, [])
                c = bool(spec.get("ConsistentRead"))
                self.read_units += sum(_read_units(item_size(i), c) for i in found)
                self.read_units += (len(spec.get("Keys", [])) - len(found)) * _read_units(0, c)
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            if params.get("ProjectionExpression") and "IndexName" not in params:
                # DynamoDB charges the whole item whatever the projection: size what is stored
                # (a projection that keeps the table's keys lets the item be found).
                # A projection may leave out the partition key: it is the Query's own ``:pk``.
                t = moto_table(params["TableName"])
                keys = [t.hash_key_attr, *([t.range_key_attr] if t.range_key_attr else [])]
                partition = {t.hash_key_attr: params.get("ExpressionAttributeValues", {}).get(":pk")}
                items = [{**partition, **i} for i in items]
                assert all(k in i and i[k] for i in items for k in keys), "a projection without the sort key"
                items = [peek(params["TableName"], {k: i[k] for k in keys}) or i for i in items]
            size = sum(item_size(i) for i in items)
            unreturned = int(parsed.get("ScannedCount", len(items))) - len(items)
            if unreturned > 0:  # filtered out: their size is not in the response; assume the average
                self.estimated = True
                size += unreturned * (size // len(items) if items else 200)
            self.read_units += _read_units(size, consistent)
        elif op in self._WRITES:
            failed = "Error" in parsed
            factor = 2 if op == "TransactWriteItems" else 1
            for (table, key, old), (_, _, action) in zip(self._old, self._targets(op, params), strict=False):
                new = old if failed else peek(table, key)
                self.write_units += factor * _write_units(max(item_size(old), item_size(new)))
                if action != "ConditionCheck" and not failed:
                    self.write_units += _index_writes(self.indexes, old, new)
            self._old = []


# ------------------------------------------------------------------ handlers


class Context(LambdaContext):
    """Lambda's context (the one fake: revisit_dev.lambda_context), named for the bench."""

    def __init__(self, name: str = "bench", memory_mb: int = 512) -> None:
        super().__init__(name, memory_mb, 60, log_stream_name="bench")


_modules: dict[str, ModuleType] = {}


def handler_module(function_dir: str) -> ModuleType:
    """functions/<dir>/app.py loaded as its own module, once per process (one warm container)."""
    if function_dir not in _modules:
        name = f"bench_fn_{function_dir}"
        task_root = str(ROOT / "functions" / function_dir)
        if (ROOT / "functions" / function_dir / function_dir).is_dir() and task_root not in sys.path:
            sys.path.append(task_root)  # a function with its own package (webapp): Lambda's task root
        spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function_dir / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[function_dir] = module
    return _modules[function_dir]


def function_exists(function_dir: str) -> bool:
    return (ROOT / "functions" / function_dir / "app.py").is_file()


# ------------------------------------------------------------------ statistics


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def settle() -> None:
    """Collect, then move every object alive now (moto's tables, the fixtures) out of the garbage
    collector's sight: a collection then costs the same however much data was seeded."""
    import gc

    gc.collect()
    gc.freeze()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def machine() -> dict[str, Any]:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_kb = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        mem_gb = round(mem_kb / 1024 / 1024)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
    }
