"""Unit tests run against moto's mock_aws with the table built from template.yaml.

moto starts here, before anything imports ``revisit`` (whose data layer creates its boto3 client
at import, once per container, as in Lambda).
"""

from __future__ import annotations

import os

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    TABLE_NAME="revisit-unit",
    CREDENTIAL_CACHE_SECONDS="0",
    PUBLIC_BASE_URL="https://fb.example.com",
    HASH_SECRET="unit-test-hash-secret",
    POWERTOOLS_SERVICE_NAME="revisit-test",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(_var, None)

from moto import mock_aws  # noqa: E402

from revisit_dev import moto_patches  # noqa: E402

moto_patches.apply()

_mock = mock_aws()
_mock.start()

import boto3  # noqa: E402
import pytest  # noqa: E402

from revisit_dev.template import create_table_from_template  # noqa: E402
from tests.world import World, build_world  # noqa: E402


@pytest.fixture(autouse=True)
def table():
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table_from_template(client, os.environ["TABLE_NAME"])
    from revisit.domain import auth, nps, workspaces

    auth.clear_cache()
    nps.clear_cache()
    workspaces._store_cache.clear()
    yield client
    client.delete_table(TableName=os.environ["TABLE_NAME"])


@pytest.fixture
def world(table) -> World:
    return build_world()


@pytest.fixture
def stream(table):
    """The table's DynamoDB stream (moto), read like Lambda's event source mapping does."""
    from tests.analytics_support import Stream

    return Stream(os.environ["TABLE_NAME"])
