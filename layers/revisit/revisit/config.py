"""Runtime settings, read once per container from the environment: the one ``settings()`` object.

Every setting has a default that suits the local stack and the tests, so a developer never has to
export anything; ``template.yaml`` sets the real values in AWS. No other module of the layer reads
the environment (``observability`` leaves it to Powertools' own ``POWERTOOLS_*`` variables).
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
    region: str = "us-east-1"
    hash_secret: str | None = None  # the HMAC key itself (local stack, tests)
    hash_secret_arn: str = ""  # else a Secrets Manager secret (AWS)
    quiet_hours: str = "21-8"  # local hours without SMS/WhatsApp sends, "start-end"
    send_max_attempts: int = 4
    whatsapp_failures_before_sms: int = 2
    email_sender: str = "surveys@example.com"
    whatsapp_webhook_url: str = ""
    event_bus_name: str = "default"
    store_cache_seconds: float = 30.0  # how long a container shows a store's settings after a change
    # Webhooks (docs/webhooks.md). Loopback URLs (http allowed) only where the local stack says so.
    webhook_allow_loopback: bool = False
    webhook_queue_url: str = ""  # the delivery queue (SQS) the dispatcher reads
    # Seconds before attempt 1, 2, ... (the Standard Webhooks schedule); its length = the attempts.
    webhook_retry_schedule: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_disable_after_seconds: int = 5 * 86400  # an endpoint failing this long is disabled
    webhook_log_days: int = 30  # delivery log items expire after this (TTL)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", "revisit"),
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            credential_cache_seconds=float(env.get("CREDENTIAL_CACHE_SECONDS", "5")),
            token_default_ttl_days=int(env.get("TOKEN_DEFAULT_TTL_DAYS", "30")),
            token_max_ttl_days=int(env.get("TOKEN_MAX_TTL_DAYS", "365")),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            hash_secret=env.get("HASH_SECRET") or None,
            hash_secret_arn=env.get("HASH_SECRET_ARN", ""),
            quiet_hours=env.get("QUIET_HOURS", "21-8"),
            send_max_attempts=int(env.get("SEND_MAX_ATTEMPTS", "4")),
            whatsapp_failures_before_sms=int(env.get("WHATSAPP_FAILURES_BEFORE_SMS", "2")),
            email_sender=env.get("EMAIL_SENDER", "surveys@example.com"),
            whatsapp_webhook_url=env.get("WHATSAPP_WEBHOOK_URL", ""),
            event_bus_name=env.get("EVENT_BUS_NAME", "default"),
            store_cache_seconds=float(env.get("STORE_CACHE_SECONDS", "30")),
            webhook_allow_loopback=env.get("WEBHOOK_ALLOW_LOOPBACK", "").lower() == "true",
            webhook_queue_url=env.get("WEBHOOK_QUEUE_URL", ""),
            webhook_retry_schedule=_schedule(env.get("WEBHOOK_RETRY_SCHEDULE", "")),
            webhook_disable_after_seconds=int(env.get("WEBHOOK_DISABLE_AFTER_SECONDS", str(5 * 86400))),
            webhook_log_days=int(env.get("WEBHOOK_LOG_DAYS", "30")),
        )


def _schedule(text: str) -> tuple[int, ...]:
    """``"0,5,300"`` -> (0, 5, 300); empty -> the Standard Webhooks schedule."""
    if not text.strip():
        return (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    delays = tuple(int(part) for part in text.split(",") if part.strip())
    if not delays or any(d < 0 for d in delays):
        raise ValueError("WEBHOOK_RETRY_SCHEDULE: comma-separated seconds, at least one, none negative")
    return delays


@functools.cache
def settings() -> Settings:
    return Settings.from_env()
