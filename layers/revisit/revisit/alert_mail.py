"""Alert emails on the wire (docs/alerts.md): the alert queue (SQS) and SES SendRawEmail.

Raw sending, because only a raw message carries our own headers: ``List-Unsubscribe`` (the
one-click link) with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), and
``Auto-Submitted: auto-generated`` (RFC 3834: no auto-replies). The message is plain text, UTF-8.

A send never raises for a delivery failure (a refused address, SES throttling after botocore's
retries): it returns a :class:`revisit.delivery.Delivery` that says so. Clients are created on
first use, once per container, and only where alerts are sent or queued.
"""

from __future__ import annotations

import functools
import json
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from revisit.config import settings
from revisit.delivery import Delivery


@functools.cache
def _client(service: str):
    import boto3
    from botocore.config import Config

    # Standard retries, 3 attempts of at most 0.5 s to connect + 1.5 s to answer (as revisit.delivery).
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=0.5, read_timeout=1.5)
    return boto3.client(service, region_name=settings().region, config=config)


def enqueue(message: dict) -> None:
    """Put one alert on the alert queue (ALERT_QUEUE_URL); raises when SQS cannot be reached."""
    _client("sqs").send_message(QueueUrl=settings().alert_queue_url, MessageBody=json.dumps(message))


def mime(to: str, subject: str, text: str, unsubscribe_url: str, sender: str | None = None) -> bytes:
    """The raw message: From, To, Subject, the unsubscribe headers, a plain-text UTF-8 body."""
    message = EmailMessage()
    message["From"] = formataddr(("Revisit", sender or settings().email_sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=(sender or settings().email_sender).rpartition("@")[2] or None)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    return message.as_bytes()


def send(to: str, subject: str, text: str, unsubscribe_url: str) -> Delivery:
    """SES SendRawEmail from EMAIL_SENDER (a verified identity) to one address."""
    from botocore.exceptions import BotoCoreError, ClientError

    raw = mime(to, subject, text, unsubscribe_url)
    try:
        resp = _client("ses").send_raw_email(
            Source=settings().email_sender, Destinations=[to], RawMessage={"Data": raw}
        )
        return Delivery(True, resp.get("MessageId"))
    except (ClientError, BotoCoreError) as exc:
        response = getattr(exc, "response", None) or {}
        return Delivery(False, error=response.get("Error", {}).get("Code") or type(exc).__name__)
