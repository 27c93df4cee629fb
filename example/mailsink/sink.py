"""A local SMTP server that stands for a slow email provider: it accepts every message after a delay."""

import asyncio
import email
import signal
from collections.abc import Callable
from email import policy
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session
from django.utils import timezone

from . import outbox


class SlowSink:
    """aiosmtpd handler: wait ``delay_seconds`` after DATA, as a provider would, then record the message."""

    def __init__(self, outbox_path: Path, delay_seconds: float) -> None:
        self.outbox_path = outbox_path
        self.delay_seconds = delay_seconds

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_seconds)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        outbox.append(
            self.outbox_path,
            {
                "received_at": timezone.now().isoformat(),
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "subject": str(message["subject"]),
                "body": body.get_content() if body is not None else "",
            },
        )
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, handler: SlowSink, on_ready: Callable[[], None]) -> None:
    """Accept SMTP connections until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(lambda: SMTP(handler, hostname="backroom-demo-sink"), host, port)
    async with server:
        on_ready()
        await stop.wait()
