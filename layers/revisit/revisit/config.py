"""Runtime settings, read once per container from the environment.

Every setting has a default that suits the local stack and the tests, so a developer never has to
export anything; ``template.yaml`` sets the real values in AWS.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    table_name: str
    public_base_url: str
    credential_cache_seconds: float
    token_default_ttl_days: int
    token_max_ttl_days: int
    aws_endpoint_url: str | None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", "revisit"),
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            credential_cache_seconds=float(env.get("CREDENTIAL_CACHE_SECONDS", "30")),
            token_default_ttl_days=int(env.get("TOKEN_DEFAULT_TTL_DAYS", "30")),
            token_max_ttl_days=int(env.get("TOKEN_MAX_TTL_DAYS", "365")),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
        )


@functools.cache
def settings() -> Settings:
    return Settings.from_env()
