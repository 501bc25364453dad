"""revisit: set up workspaces, stores and credentials straight in the table, and poke the local stack.

By default it works on the running local stack (found through <data dir>/stack.json). With
--table (and --region, --endpoint-url, --base-url) it works on a deployed stack with your AWS
credentials. Stores are checked with the management API's own rules (POST /api/stores), so
the CLI accepts exactly what the API accepts. Secrets are stored only hashed, so each
bootstrap issues a new set; earlier ones stay valid until revoked.

examples:
  revisit bootstrap --workspace-id 1042 --store downtown-coffee --json
  revisit create-store --workspace-id 1042 --store uptown --name "Uptown" --timezone Europe/Paris
  revisit issue-key --workspace-id 1042 --kind api --store uptown
  revisit list-keys --workspace-id 1042
  revisit revoke-key --workspace-id 1042 --key-id key_...
  revisit migrate --dry-run               (what the data migrations would change; then without --dry-run)
  revisit invoke SchedulerFunction        (local stack: send what is due now)
  revisit outbox                          (local stack: what was sent)
  revisit import past.csv --store uptown --key nk_...           (history, 1,000 rows a request; resumable)
  revisit import delighted.jsonl --format delighted --store uptown --key nk_...
  revisit demo-data --store downtown-coffee --days 90 --customers 300   (local stack: a living dashboard)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

LOCAL_ONLY = ("outbox", "invoke")
IMPORT_ROWS_PER_REQUEST = 1_000  # POST /api/external/feedback/import takes at most this many
IMPORT_BYTES_PER_REQUEST = 4_000_000  # below the endpoint's 5 MB
IMPORT_COLUMNS = ("storeSlug", "createdAt", "rating", "comment", "civ", "orderId", "source", "externalId")
OPTION_OF = {"slug": "--store", "name": "--name", "timezone": "--timezone", "workspaceId": "--workspace-id"}
INVOKE_TIMEOUT = 960  # seconds: past Lambda's longest Timeout (900 s), so the stack answers first


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("revisit")
    except PackageNotFoundError:
        return "unknown"


def _stack_info(args: argparse.Namespace) -> dict[str, Any]:
    from revisit_dev.stack import data_dir

    stack_file = Path(args.data_dir or data_dir()) / "stack.json"
    if not stack_file.is_file():
        raise SystemExit(
            f"error: the local stack is not running ({stack_file} is missing). Start it with `make dev`,\n"
            "or pass --table (and --region) to work on a stack in AWS."
        )
    return json.loads(stack_file.read_text())


def _target(args: argparse.Namespace) -> str | None:
    """Point the environment at the table to use (before ``revisit`` is imported); the base URL."""
    if args.table:
        os.environ["TABLE_NAME"] = args.table
        if args.region:
            os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
        if args.endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        return args.base_url
    from revisit_dev.resources import use_local_aws

    stack = _stack_info(args)
    use_local_aws(stack["awsEndpointUrl"], stack["region"], stack.get("dynamodbEndpointUrl"))
    os.environ["TABLE_NAME"] = stack["tableName"]
    return args.base_url or stack["baseUrl"]


# ------------------------------------------------------------------ stores


def _store_request(slug: str, name: str | None, timezone: str | None) -> Any:
    """The store as POST /api/stores would take it: the API's model, the API's error message."""
    from pydantic import ValidationError

    from revisit.http.app import validation_error
    from revisit.http.schemas import CreateStore

    fields: dict[str, Any] = {"slug": slug}
    if name is not None:
        fields["name"] = name
    if timezone is not None:
        fields["timezone"] = timezone
    try:
        return CreateStore.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _ensure_store(workspace_id: str, slug: str, name: str | None = None, timezone: str | None = None) -> dict[str, Any]:
    """The store, created if missing (and its workspace); validated first, so a bad one writes nothing.

    An existing store is kept as it is: asking for another name or time zone than it has is an error.
    """
    from revisit.domain import workspaces
    from revisit.errors import Conflict

    req = _store_request(slug, name, timezone)
    workspaces.ensure_workspace(workspace_id)
    store = workspaces.find_store(workspace_id, req.slug)
    if store is None:
        try:
            return workspaces.create_store(workspace_id, req.slug, req.name, req.timezone)
        except Conflict:  # created concurrently
            store = workspaces.get_store(workspace_id, req.slug)
    asked = {"name": req.name if name is not None else None, "timezone": req.timezone if timezone is not None else None}
    differ = [f"{k} {store.get(k)!r} (not {v!r})" for k, v in asked.items() if v is not None and store.get(k) != v]
    if differ:
        raise Conflict(f"Store '{req.slug}' already exists in this workspace with {' and '.join(differ)}.")
    return store


def _issue(workspace_id: str, kind: str, store: str | None, label: str | None) -> dict[str, Any]:
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind

    shop_id = workspaces.get_store(workspace_id, store)["shopId"] if store and kind == "shop" else None
    return credentials.issue(workspace_id, Kind(kind), "store" if store else "workspace", store, label, shop_id)


def bootstrap(args: argparse.Namespace, base_url: str | None) -> dict[str, Any]:
    ws = args.workspace_id
    store = _ensure_store(ws, args.store, args.name, args.timezone)
    slug = store["slug"]
    owner = _issue(ws, "owner", None, "bootstrap owner")
    ws_api = _issue(ws, "api", None, "bootstrap workspace api")
    store_api = _issue(ws, "api", slug, "bootstrap store api")
    partner = _issue(ws, "partner", slug, "bootstrap partner")
    shop = _issue(ws, "shop", slug, "bootstrap shop")
    from revisit.domain import nps

    defaults = nps.default_codes(shop["shopId"])  # the codes a fresh shop's /nps/create can use
    return {
        "workspaceId": ws,
        "storeSlug": slug,
        "ownerToken": owner["token"],
        "workspaceApiKey": ws_api["key"],
        "storeApiKey": store_api["key"],
        "partnerKey": partner["apiKey"],
        "partnerSecret": partner["apiSecret"],
        "shopId": shop["shopId"],
        "shopSecret": shop["shopSecret"],
        "defaultCategory": defaults["defaultCategory"],
        "defaultChannel": defaults["defaultChannel"],
        "baseUrl": base_url,
    }


def _print_bootstrap(out: dict[str, Any]) -> None:
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    print(
        "\nTry:\n"
        f"  curl -H 'Authorization: Bearer {out['ownerToken']}' -H 'x-workspace-id: {out['workspaceId']}' "
        f"{out['baseUrl'] or '<base url>'}/api/keys"
    )


# ------------------------------------------------------------------ data migrations


def _migrate(args: argparse.Namespace) -> int:
    """Apply the layer's data migrations (revisit_dev.migrations) to the target table."""
    if args.hash_secret_arn:
        os.environ["HASH_SECRET_ARN"] = args.hash_secret_arn
    elif not args.table and not os.environ.get("HASH_SECRET"):  # the local stack's generated secret
        import boto3

        names = boto3.client("secretsmanager").list_secrets().get("SecretList", [])
        arn = next((s["ARN"] for s in names if s["Name"].endswith("HashingSecret")), None)
        if arn:
            os.environ["HASH_SECRET_ARN"] = arn
    from revisit_dev import migrations

    def progress(outcome: Any) -> None:
        print(
            f"{outcome.id}: page {outcome.pages}, {outcome.scanned} scanned, "
            f"{outcome.changed} {'to change' if args.dry_run else 'changed'}",
            file=sys.stderr,
            flush=True,
        )

    outcomes = migrations.run(dry_run=args.dry_run, only=args.only, page_size=args.page_size, progress=progress)
    print(json.dumps({"dryRun": args.dry_run, "migrations": [o.as_dict() for o in outcomes]}, indent=2))
    return 0


# ------------------------------------------------------------------ the local stack's own endpoints


def _local_call(base_url: str, method: str, path: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(f"{base_url}{path}", data=body, method=method)  # noqa: S310 - our own stack
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as resp:  # noqa: S310
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            answer = json.loads(text)
            message = ": ".join(str(answer[k]) for k in ("errorType", "message") if answer.get(k)) or text
        except (ValueError, AttributeError, TypeError):
            message = text
        print(f"error: {method} {path}: {exc.code} {message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: the local stack at {base_url} did not answer ({exc}); is it running?", file=sys.stderr)
        return 1


def _invoke(args: argparse.Namespace, base_url: str) -> int:
    body = b""
    if args.event:
        try:
            text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text()
        except OSError as exc:
            raise SystemExit(f"error: cannot read --event {args.event}: {exc.strerror}") from None
        try:
            json.loads(text)
        except ValueError as exc:
            raise SystemExit(f"error: --event {args.event} is not JSON: {exc}") from None
        body = text.encode()
    return _local_call(base_url, "POST", f"/_local/invoke/{args.function}", body)


# ------------------------------------------------------------------ importing history (docs/imports.md)


def _utc_iso(value: Any) -> str:
    """A timestamp as ISO UTC with Z: a Unix time, an ISO text, or 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    from datetime import UTC, datetime

    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(int(value), UTC).isoformat().replace("+00:00", "Z")
    text = str(value).strip().replace(" UTC", "")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def nps_to_rating(score: int) -> int:
    """An NPS answer (0-10) as a 1-5 rating: ceil(score / 2), the aggregator's rule for NPS rates,
    with 0 (which a seed-002 NPS review cannot hold) as 1, like 1 and 2."""
    return max(1, (int(score) + 1) // 2)


def from_delighted(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Delighted survey responses (its API's / export's JSON objects) -> import rows; (rows, skipped).

    NPS (0-10) -> ``rating`` = ceil(score / 2), 0 -> 1, ``source`` ``delighted-nps``; CSAT (1-5) ->
    ``rating`` as is, ``source`` ``delighted-csat``; other survey types (CES, ...) are skipped."""
    rows, skipped = [], 0
    for r in records:
        kind = str(r.get("survey_type") or "nps").lower()
        if kind not in ("nps", "csat") or r.get("score") in (None, ""):
            skipped += 1
            continue
        props = r.get("person_properties") or {}
        civ = (
            props.get("customer_id")
            or props.get("Customer ID")
            or (f"delighted-person:{r['person']}" if r.get("person") else None)
        )
        row = {
            "createdAt": _utc_iso(r["created_at"]),
            "rating": nps_to_rating(int(r["score"])) if kind == "nps" else int(r["score"]),
            "comment": r.get("comment") or None,
            "civ": str(civ) if civ else None,
            "orderId": props.get("order_id") or props.get("Order ID") or None,
            "source": f"delighted-{kind}",
            "externalId": f"delighted:{r['id']}",
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows, skipped


def from_formbricks(
    records: list[dict[str, Any]], rating_column: str, comment_column: str | None, scale: str
) -> tuple[list[dict[str, Any]], int]:
    """A Formbricks responses export (CSV: "Response ID", "Timestamp", "User ID", one column per
    question) -> import rows; (rows, skipped: unanswered ratings). ``scale``: 5 (a 1-5 rating
    question, as is), 10 (1-10: ceil / 2) or nps (0-10: as Delighted's NPS)."""
    rows, skipped = [], 0
    for r in records:
        raw = str(r.get(rating_column) or "").strip()
        if not raw:
            skipped += 1
            continue
        score = int(float(raw))
        rating = score if scale == "5" else nps_to_rating(score)
        row = {
            "createdAt": _utc_iso(r.get("Timestamp") or r.get("Created At") or r["createdAt"]),
            "rating": rating,
            "comment": (r.get(comment_column) or "").strip() or None if comment_column else None,
            "civ": (r.get("User ID") or "").strip() or None,
            "orderId": (r.get("orderId") or r.get("Order ID") or "").strip() or None,
            "source": "formbricks",
            "externalId": f"formbricks:{r['Response ID']}",
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows, skipped


def _read_records(path: Path) -> list[dict[str, Any]]:
    import csv

    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(text.splitlines())]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit(f"error: {path}:{number} is not JSON: {exc}") from None
    return out


def import_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], int]:
    """The file's rows in the import's columns (converted from --format), each with a store."""
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist")
    records = _read_records(path)
    if args.format == "delighted":
        rows, skipped = from_delighted(records)
    elif args.format == "formbricks":
        if not args.rating_column:
            raise SystemExit("error: --format formbricks needs --rating-column (the rating question's column)")
        rows, skipped = from_formbricks(records, args.rating_column, args.comment_column, args.scale)
    else:
        rows, skipped = [{k: v for k, v in r.items() if v not in (None, "")} for r in records], 0
    for row in rows:
        row.setdefault("storeSlug", args.store)
    return rows, skipped


def _chunks(rows: list[dict[str, Any]], start: int) -> Any:
    """(offset, JSON Lines body, rows in it) of each request from row ``start``: at most 1,000 rows
    and 4 MB each."""
    i = start
    while i < len(rows):
        lines, size = [], 0
        while i + len(lines) < len(rows) and len(lines) < IMPORT_ROWS_PER_REQUEST:
            line = json.dumps(rows[i + len(lines)], ensure_ascii=False) + "\n"
            if lines and size + len(line.encode()) > IMPORT_BYTES_PER_REQUEST:
                break
            lines.append(line)
            size += len(line.encode())
        yield i, "".join(lines), len(lines)
        i += len(lines)


def _post_rows(url: str, headers: dict[str, str], body: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body.encode(), method="POST")  # noqa: S310 - the operator's URL
    for name, value in {**headers, "Content-Type": "application/x-ndjson"}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {"error": {"message": text, "details": []}}


def _api_headers(args: argparse.Namespace) -> dict[str, str]:
    key = args.key or os.environ.get("REVISIT_API_KEY")
    if args.owner_token:
        if not args.workspace_id:
            raise SystemExit("error: --owner-token needs --workspace-id")
        return {"Authorization": f"Bearer {args.owner_token}", "x-workspace-id": args.workspace_id}
    if key:
        return {"x-api-key": key}
    raise SystemExit("error: pass an API key (--key or REVISIT_API_KEY) or --owner-token and --workspace-id")


def _customer(args: argparse.Namespace) -> int:
    """export-customer: GET /api/external/customers/{civ}?storeSlug=; forget: DELETE it (both print
    the API's JSON answer; a DELETE repeated after an interruption finishes the erasure)."""
    from urllib.parse import quote, urlencode

    base_url = (args.url or args.base_url or _stack_info(args)["baseUrl"]).rstrip("/")
    method = "GET" if args.command == "export-customer" else "DELETE"
    params = {"storeSlug": args.store, **{k: v for k, v in (("email", args.email), ("phone", args.phone)) if v}}
    url = f"{base_url}/api/external/customers/{quote(args.civ, safe='')}?{urlencode(params)}"
    request = urllib.request.Request(url, method=method)  # noqa: S310 - the operator's URL
    for name, value in _api_headers(args).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310
            answer = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text
        print(f"error: {method} {args.civ} at {args.store}: {exc.code} {message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: the API at {base_url} did not answer ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


def _import(args: argparse.Namespace) -> int:
    """POST the file's rows in requests of 1,000 (progress on stderr), recording after each request
    how far it got in the state file, so a second run resumes there (the endpoint stores a row
    once by its externalId, so a request repeated after a crash duplicates nothing)."""
    import hashlib
    import time

    base_url = (args.url or args.base_url or _stack_info(args)["baseUrl"]).rstrip("/")
    key = args.key or os.environ.get("REVISIT_API_KEY")
    if args.owner_token:
        if not args.workspace_id:
            raise SystemExit("error: --owner-token needs --workspace-id")
        headers = {"Authorization": f"Bearer {args.owner_token}", "x-workspace-id": args.workspace_id}
    elif key:
        headers = {"x-api-key": key}
    else:
        raise SystemExit("error: pass a workspace key (--key or REVISIT_API_KEY) or --owner-token and --workspace-id")
    rows, skipped = import_rows(args)
    digest = hashlib.sha256(Path(args.file).read_bytes()).hexdigest()
    state_path = Path(args.state) if args.state else Path(f"{args.file}.import-state.json")
    state = {"file": str(Path(args.file).resolve()), "sha256": digest, "rowsDone": 0, "created": 0, "alreadyPresent": 0}
    if state_path.is_file():
        previous = json.loads(state_path.read_text())
        if previous.get("sha256") != digest:
            raise SystemExit(f"error: {state_path} is the state of another input; remove it or pass --state")
        state = previous
        if state["rowsDone"]:
            print(f"resuming at row {state['rowsDone'] + 1} of {len(rows)}", file=sys.stderr)
    url = f"{base_url}/api/external/feedback/import"
    for offset, body, count in _chunks(rows, state["rowsDone"]):
        for attempt in range(4):
            try:
                status, answer = _post_rows(url, headers, body)
            except OSError as exc:
                status, answer = 0, {"error": {"message": str(exc), "details": []}}
            if status < 500 and status != 0:
                break
            time.sleep(2**attempt)
        if status != 200:
            error = answer.get("error") or {}
            print(f"error: rows {offset + 1}-{offset + count}: {status} {error.get('message', '')}", file=sys.stderr)
            for d in error.get("details") or []:
                field = str(d.get("field", ""))
                if field.startswith("rows[") and "]" in field:  # the request's row -> the file's row
                    n = int(field[5 : field.index("]")])
                    field = f"row {offset + n}{field[field.index(']') + 1 :]}"
                print(f"  {field}: {d.get('message')}", file=sys.stderr)
            print(f"(stopped at row {offset + 1}; fix it and run the same command again to go on)", file=sys.stderr)
            return 1
        state["rowsDone"] = offset + count
        state["created"] += answer["created"]
        state["alreadyPresent"] += answer["alreadyPresent"]
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(state_path)
        done = state["rowsDone"]
        print(
            f"[{'#' * (30 * done // len(rows)):<30}] {done}/{len(rows)} rows, {state['created']} created, "
            f"{state['alreadyPresent']} already present",
            file=sys.stderr,
            flush=True,
        )
    print(
        json.dumps(
            {
                "rows": len(rows),
                "skipped": skipped,
                **{k: state[k] for k in ("created", "alreadyPresent")},
                "state": str(state_path),
            }
        )
    )
    return 0


# ------------------------------------------------------------------ demo data (revisit_dev.demo)


def _demo(args: argparse.Namespace, base_url: str | None) -> int:
    """Fill a store with a realistic history through the APIs (revisit_dev.demo), with credentials
    issued for the run and revoked at its end."""
    from revisit.domain import credentials
    from revisit_dev import demo

    if args.days < 1 or args.customers < 1:
        raise SystemExit("error: --days and --customers must be at least 1")
    url = (args.url or base_url or "").rstrip("/")
    if not url:
        raise SystemExit("error: pass --url (or --base-url): the API's base URL")
    store = _ensure_store(args.workspace_id, args.store)
    slug = store["slug"]
    issued = [
        _issue(args.workspace_id, "api", None, "demo-data"),
        _issue(args.workspace_id, "shop", slug, "demo-data"),
        _issue(args.workspace_id, "partner", slug, "demo-data"),
    ]
    creds = demo.Credentials(
        workspace_id=args.workspace_id,
        key=issued[0]["key"],
        shop_id=issued[1]["shopId"],
        shop_secret=issued[1]["shopSecret"],
        partner_key=issued[2]["apiKey"],
        partner_secret=issued[2]["apiSecret"],
    )
    client = demo.Http(url)

    def send() -> None:
        if args.table:
            return  # a deployed stack's schedule sends them
        status, _ = client.request("POST", "/_local/invoke/SchedulerFunction", body={})
        if status != 200:
            print(f"(the scheduler answered {status}: the emails go out with its next run)", file=sys.stderr)

    try:
        summary = demo.run(
            client,
            creds,
            slug,
            days=args.days,
            customers=args.customers,
            seed=args.seed,
            progress=demo.Progress(),
            send=send,
        )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for made in issued:
            credentials.revoke(args.workspace_id, made["keyId"])
    print(json.dumps(summary, indent=2))
    print(f"\nOpen {url}/app and sign in, or: curl -H 'x-api-key: ...' '{url}/api/external/dashboard?storeSlug={slug}'")
    return 0


# ------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revisit", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--version", action="version", version=f"revisit {_version()}")
    target = parser.add_argument_group("target (default: the running local stack)")
    target.add_argument("--data-dir", help="the local stack's data directory (default: $REVISIT_DATA_DIR or .local)")
    target.add_argument("--table", help="a deployed stack's table name (uses your AWS credentials)")
    target.add_argument("--region", help="with --table: the AWS region")
    target.add_argument("--endpoint-url", help="with --table: a DynamoDB endpoint URL")
    target.add_argument("--base-url", help="the API's base URL, to print")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command", help="one of:")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, formatter_class=argparse.RawTextHelpFormatter)

    def workspace(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workspace-id", required=True, help="the workspace's id (e.g. 1042)")

    def store_details(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", help="the store's display name (default: its slug)")
        p.add_argument("--timezone", help="the store's IANA time zone, e.g. Europe/Paris (default: the API's, UTC)")

    p = command("bootstrap", "create a workspace and store (idempotent) and issue every kind of credential")
    workspace(p)
    p.add_argument("--store", required=True, help="the store's slug, as POST /api/stores takes it (e.g. uptown)")
    store_details(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("create-store", "create a store (and its workspace if needed); an existing one is kept")
    workspace(p)
    p.add_argument("--store", required=True, help="the store's slug, as POST /api/stores takes it (e.g. uptown)")
    store_details(p)

    p = command("issue-key", "issue one credential (its secret is shown once)")
    workspace(p)
    p.add_argument("--kind", choices=["owner", "api", "partner", "shop"], default="api", help="default: api")
    p.add_argument("--store", help="scope it to this store (default: the workspace)")
    p.add_argument("--label", help="a note to recognise it by in list-keys")

    p = command("list-keys", "list a workspace's credentials (no secrets)")
    workspace(p)

    p = command("revoke-key", "revoke a credential")
    workspace(p)
    p.add_argument("--key-id", required=True, help="the key's id (key_..., from list-keys)")

    p = command("migrate", "apply the data migrations not applied yet (resumable; a second run changes nothing)")
    p.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
    p.add_argument("--only", metavar="ID", help="just this migration (e.g. 0001-purchases-by-store)")
    p.add_argument("--page-size", type=int, default=100, help="items scanned per page (default: 100)")
    p.add_argument(
        "--hash-secret-arn", help="with --table: the stack's HashingSecret ARN (contacts become keyed hashes)"
    )

    p = command("invoke", "the local stack only: run a function now and print its result")
    p.add_argument("function", metavar="LogicalId", help="the function's logical id in template.yaml")
    p.add_argument(
        "--event", metavar="FILE", help="a JSON file to send as the event ('-': stdin; default: its schedule's event)"
    )

    command("outbox", "the local stack only: the emails and SMS the scheduler sent (with their links)")

    p = command("import", "import past answers (docs/imports.md): 1,000 rows a request, resumable")
    p.add_argument("file", metavar="FILE", help="a .csv or .jsonl file")
    p.add_argument("--store", required=True, help="the store of the rows that name none (storeSlug)")
    p.add_argument(
        "--format",
        choices=["revisit", "delighted", "formbricks"],
        default="revisit",
        help="revisit: the import's own columns (default); delighted: survey responses (JSON lines or CSV);\n"
        "formbricks: a responses export (CSV)",
    )
    p.add_argument("--rating-column", help="formbricks: the rating question's column")
    p.add_argument("--comment-column", help="formbricks: the open question's column")
    p.add_argument("--scale", choices=["5", "10", "nps"], default="5", help="formbricks: the rating's scale")
    p.add_argument("--key", help="a workspace API key (default: $REVISIT_API_KEY)")
    p.add_argument("--owner-token", help="or the owner token (with --workspace-id)")
    p.add_argument("--workspace-id", help="with --owner-token")
    p.add_argument("--url", help="the API's base URL (default: the running local stack's)")
    p.add_argument("--state", help="the state file (default: FILE.import-state.json)")

    p = command("demo-data", "fill a store with a realistic history through the APIs (deterministic, rerun-safe)")
    p.add_argument("--workspace-id", default="1042", help="the workspace (default: 1042; created if missing)")
    p.add_argument("--store", required=True, help="the store's slug (created if missing)")
    p.add_argument("--days", type=int, default=90, help="how far back the history goes (default: 90)")
    p.add_argument("--customers", type=int, default=300, help="identified customers (default: 300)")
    p.add_argument("--seed", type=int, default=1, help="the same seed, the same history (default: 1)")
    p.add_argument("--url", help="the API's base URL (default: the running local stack's)")

    for name, help_ in (
        ("export-customer", "a customer's data at a store (an access request): everything held about the civ"),
        ("forget", "erase a customer at a store (an erasure request): every item, every aggregate adjusted"),
    ):
        p = command(name, help_)
        p.add_argument("--civ", required=True, help="the customer's civ (customer id) at the store")
        p.add_argument("--store", required=True, help="the store's slug")
        p.add_argument("--email", help="also their NPS reviews left with this email (without a loyalty_id)")
        p.add_argument("--phone", help="also their NPS reviews left with this phone number")
        p.add_argument("--key", help="an API key of the workspace or of that store (default: $REVISIT_API_KEY)")
        p.add_argument("--owner-token", help="or the owner token (with --workspace-id)")
        p.add_argument("--workspace-id", help="with --owner-token")
        p.add_argument("--url", help="the API's base URL (default: the running local stack's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "import":
        return _import(args)
    if args.command in ("export-customer", "forget"):
        return _customer(args)
    if args.command in LOCAL_ONLY:
        if args.table:
            raise SystemExit(f"error: {args.command} works on the local stack only: leave out --table")
        base_url = args.base_url or _stack_info(args)["baseUrl"]
        if args.command == "invoke":
            return _invoke(args, base_url)
        return _local_call(base_url, "GET", "/_local/outbox")
    base_url = _target(args)
    if args.command == "migrate":
        return _migrate(args)
    if args.command == "demo-data":
        return _demo(args, base_url)

    from botocore.exceptions import BotoCoreError, ClientError

    from revisit.errors import RevisitError

    try:
        if args.command == "bootstrap":
            out = bootstrap(args, base_url)
            if args.json:
                print(json.dumps(out))
            else:
                _print_bootstrap(out)
            return 0
        if args.command == "create-store":
            result: Any = _ensure_store(args.workspace_id, args.store, args.name, args.timezone)
        elif args.command == "issue-key":
            if args.kind == "owner" and args.store:
                raise SystemExit("error: owner tokens belong to the workspace: leave out --store")
            if args.kind in ("partner", "shop") and not args.store:
                raise SystemExit(f"error: {args.kind} credentials belong to a store: add --store")
            result = _issue(args.workspace_id, args.kind, args.store, args.label)
        elif args.command == "list-keys":
            from revisit.domain import credentials

            result = {"items": credentials.list_keys(args.workspace_id)}
        else:
            from revisit.domain import credentials

            result = credentials.revoke(args.workspace_id, args.key_id)
    except RevisitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        fields = {d.get("field") for d in exc.details} & OPTION_OF.keys()
        if fields:
            print("(the API's " + ", ".join(f"{f} is {OPTION_OF[f]}" for f in sorted(fields)) + ")", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
