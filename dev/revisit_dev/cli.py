"""``revisit``: set up workspaces, stores and credentials, straight in the table.

By default it talks to the running local stack (found through ``<data dir>/stack.json``); with
``--table`` (and ``--region``, ``--endpoint-url``, ``--base-url``) it works on a deployed stack
with your AWS credentials. Secrets are stored only hashed, so each ``bootstrap`` issues a new
set; earlier ones stay valid until revoked.

    revisit bootstrap --workspace-id 1042 --store downtown-coffee --json
    revisit create-store --workspace-id 1042 --store uptown --name "Uptown" --timezone Europe/Paris
    revisit issue-key --workspace-id 1042 --kind api --store uptown
    revisit list-keys --workspace-id 1042
    revisit revoke-key --workspace-id 1042 --key-id key_...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from revisit_dev.stack import data_dir, use_local_aws


def _target(args: argparse.Namespace) -> str | None:
    """Point the environment at the table to use (before ``revisit`` is imported); the base URL."""
    if args.table:
        os.environ["TABLE_NAME"] = args.table
        if args.region:
            os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
        if args.endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        return args.base_url
    stack_file = Path(args.data_dir or data_dir()) / "stack.json"
    if not stack_file.is_file():
        raise SystemExit(
            f"error: the local stack is not running ({stack_file} is missing). Start it with `make dev`,\n"
            "or pass --table (and --region) to work on a stack in AWS."
        )
    stack = json.loads(stack_file.read_text())
    use_local_aws(stack["awsEndpointUrl"], stack["region"], stack.get("dynamodbEndpointUrl"))
    os.environ["TABLE_NAME"] = stack["tableName"]
    return args.base_url or stack["baseUrl"]


def _issue(workspace_id: str, kind: str, store: str | None, label: str | None) -> dict[str, Any]:
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind

    shop_id = workspaces.get_store(workspace_id, store)["shopId"] if store and kind == "shop" else None
    return credentials.issue(workspace_id, Kind(kind), "store" if store else "workspace", store, label, shop_id)


def _ensure_store(workspace_id: str, slug: str, name: str | None = None, timezone: str = "UTC") -> dict[str, Any]:
    from revisit.domain import workspaces
    from revisit.errors import Conflict

    workspaces.ensure_workspace(workspace_id)
    store = workspaces.find_store(workspace_id, slug)
    if store is None:
        try:
            store = workspaces.create_store(workspace_id, slug, name, timezone)
        except Conflict:  # created concurrently
            store = workspaces.get_store(workspace_id, slug)
    return store


def bootstrap(args: argparse.Namespace, base_url: str | None) -> dict[str, Any]:
    ws, slug = args.workspace_id, args.store
    store = _ensure_store(ws, slug)
    owner = _issue(ws, "owner", None, "bootstrap owner")
    ws_api = _issue(ws, "api", None, "bootstrap workspace api")
    store_api = _issue(ws, "api", slug, "bootstrap store api")
    partner = _issue(ws, "partner", slug, "bootstrap partner")
    shop = _issue(ws, "shop", slug, "bootstrap shop")
    return {
        "workspaceId": ws,
        "storeSlug": store["slug"],
        "ownerToken": owner["token"],
        "workspaceApiKey": ws_api["key"],
        "storeApiKey": store_api["key"],
        "partnerKey": partner["apiKey"],
        "partnerSecret": partner["apiSecret"],
        "shopId": shop["shopId"],
        "shopSecret": shop["shopSecret"],
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revisit", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    target = parser.add_argument_group("target (default: the running local stack)")
    target.add_argument("--data-dir", help="the local stack's data directory (default: $REVISIT_DATA_DIR or .local)")
    target.add_argument("--table", help="a deployed stack's table name (uses your AWS credentials)")
    target.add_argument("--region", help="with --table: the AWS region")
    target.add_argument("--endpoint-url", help="with --table: a DynamoDB endpoint URL")
    target.add_argument("--base-url", help="the API's base URL, to print")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bootstrap", help="create a workspace and store (idempotent) and issue every kind of credential")
    p.add_argument("--workspace-id", required=True)
    p.add_argument("--store", required=True, help="store slug")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("create-store", help="create a store (and its workspace if needed)")
    p.add_argument("--workspace-id", required=True)
    p.add_argument("--store", required=True, help="store slug")
    p.add_argument("--name")
    p.add_argument("--timezone", default="UTC")

    p = sub.add_parser("issue-key", help="issue one credential (its secret is shown once)")
    p.add_argument("--workspace-id", required=True)
    p.add_argument("--kind", choices=["owner", "api", "partner", "shop"], default="api")
    p.add_argument("--store", help="scope it to this store (default: the workspace)")
    p.add_argument("--label")

    p = sub.add_parser("list-keys", help="list a workspace's credentials (no secrets)")
    p.add_argument("--workspace-id", required=True)

    p = sub.add_parser("revoke-key", help="revoke a credential")
    p.add_argument("--workspace-id", required=True)
    p.add_argument("--key-id", required=True)

    sub.add_parser("outbox", help="the local stack only: the emails and SMS the scheduler sent (with their links)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base_url = _target(args)
    if args.command == "outbox":
        import urllib.request

        with urllib.request.urlopen(f"{base_url}/_local/outbox", timeout=10) as resp:  # noqa: S310 - our own stack
            print(resp.read().decode())
        return 0

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
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
