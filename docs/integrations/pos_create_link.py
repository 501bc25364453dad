"""A POS creating the survey link when an order closes (docs/integrations/README.md, recipe 1).

    REVISIT_URL=https://abc123.execute-api.eu-west-1.amazonaws.com/prod \
    REVISIT_API_KEY=nk_... python pos_create_link.py downtown-coffee ORD-12345 CUST-7891

Prints the link to put on the receipt, in the SMS or behind a QR code. Safe to retry: the
Idempotency-Key is the order id, so a retry after a lost response returns the same link (200,
``Idempotent-Replayed: true``) instead of creating a second one.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request


def create_link(base_url: str, api_key: str, store: str, order_id: str, civ: str | None = None) -> str:
    payload = {"orderId": order_id, **({"civ": civ} if civ else {})}
    body = json.dumps({"storeSlug": store, "payload": payload}).encode()
    if not base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise SystemExit("REVISIT_URL must be an https URL (or the local stack)")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        f"{base_url}/api/external/token",
        data=body,
        method="POST",
        headers={"x-api-key": api_key, "Content-Type": "application/json", "Idempotency-Key": f"order-{order_id}"},
    )
    for attempt in range(4):  # network errors, 429 and 503 are worth a retry; 4xx are not
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the API's URL
                return json.load(response)["url"]
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503) or attempt == 3:
                detail = json.load(error).get("error", {})
                raise SystemExit(f"{error.code}: {detail.get('message')} {detail.get('details')}") from None
            time.sleep(float(error.headers.get("Retry-After") or 2**attempt))
        except urllib.error.URLError:
            if attempt == 3:
                raise
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


if __name__ == "__main__":
    store, order, *rest = sys.argv[1:]
    print(create_link(os.environ["REVISIT_URL"].rstrip("/"), os.environ["REVISIT_API_KEY"], store, order, *rest))
