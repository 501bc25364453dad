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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
