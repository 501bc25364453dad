"""The tenant limit on the local stack (issue 18 part 4): a stack of its own started with
TENANT_REQUESTS_PER_MINUTE=30 and the credential cache on (5 s); one workspace's key hammered
until 429 (with Retry-After) while another workspace is still answered."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    stack = LocalStack(
        tmp_path_factory.mktemp("revisit-limited"),
        {"TENANT_REQUESTS_PER_MINUTE": "30", "CREDENTIAL_CACHE_SECONDS": "5"},
    )
    stack.start()
    yield stack
    stack.stop()


def test_one_tenant_is_stopped_and_the_other_is_not(limited):
    mine = limited.bootstrap("limit-a-" + uuid.uuid4().hex[:6], "downtown-coffee")["workspaceApiKey"]
    theirs = limited.bootstrap("limit-b-" + uuid.uuid4().hex[:6], "downtown-coffee")["workspaceApiKey"]
    started, statuses, refused = time.monotonic(), [], None
    while time.monotonic() - started < 75 and refused is None:
        reply = limited.request("GET", "/api/campaigns", headers={"x-api-key": mine})
        statuses.append(reply.status_code)
        if reply.status_code == 429:
            refused = reply
        time.sleep(0.05)
    assert refused is not None, statuses
    assert set(statuses) <= {200, 429}
    assert refused.json()["error"]["code"] == "TOO_MANY_REQUESTS" and 1 <= int(refused.headers["Retry-After"]) <= 61
    other = limited.request("GET", "/api/campaigns", headers={"x-api-key": theirs})
    assert other.status_code == 200, other.text
    print(f"admitted {statuses.count(200)} of {len(statuses)} before the first 429 (limit 30 a minute)")
