"""Verifying a Revisit webhook in Python (docs/integrations/README.md, recipe 3), with the
Standard Webhooks library (pip install standardwebhooks)."""

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verify(secret: str, body: bytes, headers: dict[str, str]) -> dict:
    """The event, or WebhookVerificationError: a wrong signature, or a timestamp over 5 min old."""
    return Webhook(secret).verify(body, headers)  # headers: webhook-id, webhook-timestamp, webhook-signature


__all__ = ["WebhookVerificationError", "verify"]
