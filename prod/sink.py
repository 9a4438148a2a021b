"""An SMTP server that keeps every message it is sent, for counting: the mail side of
`make prod-smoke`. It answers like a mail server (aiosmtpd), so the app sends through Django's
real SMTP backend."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    at: float = 0.0  # time.monotonic() when the mail server answered 250


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # A slow mail server: a worker spends a while in each conversation (the smoke kills one
        # in the middle), and a conversation cut before DATA delivers nothing.
        await asyncio.sleep(self.sink.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message: Message = message_from_bytes(content)
        payload = message.get_payload(decode=True)
        body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        self.sink.keep(
            Received(
                message_id=str(message.get("Message-ID", "")).strip(),
                recipients=tuple(str(r) for r in envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                body=body,
                at=time.monotonic(),
            )
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """``with SmtpSink() as sink:`` listens on ``sink.port`` (127.0.0.1) until the block ends."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        from prod.stack import HOST, free_port

        self.port = port or free_port()
        self.delay = delay  # seconds before each recipient is accepted
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._controller.stop()

    def keep(self, message: Received) -> None:
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def duplicates(self) -> dict[str, int]:
        """Message-IDs received more than once, with how many times."""
        counts = Counter(m.message_id for m in self.messages)
        return {message_id: n for message_id, n in counts.items() if n > 1}
