"""Webhooks: instruction events POSTed to the centre's other systems (a duty-room pager, a
district's own platform), signed, retried, and never blocking the Dispatcher.

Each event of :mod:`fanzha.dispatch.events` is one JSON body (its ``to_json`` plus a delivery
id) POSTed to every configured URL with::

    Content-Type: application/json
    X-Fanzha-Event: issued | upgraded | overdue | closed | updated
    X-Fanzha-Delivery: <uuid>            (the same on every retry of one delivery)
    X-Fanzha-Signature: sha256=<hex>     (HMAC-SHA256 of the body with the shared secret)

A receiver checks the signature with :func:`signature` and drops deliveries it has seen.
Delivery runs on a worker thread fed by a bounded queue: the bus hands events over without
waiting; a non-2xx answer or a network error is retried with backoff; a delivery that still
fails is appended to a JSON-lines file (``failed_path``) so nothing is lost silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanzha.dispatch.events import InstructionEvent

log = logging.getLogger(__name__)

#: Events waiting for delivery before new ones are dropped (and counted).
QUEUE_SIZE = 10_000


def signature(secret: str, body: bytes) -> str:
    """The ``X-Fanzha-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_urls(raw: str | None) -> tuple[str, ...]:
    """The URLs of a comma- or whitespace-separated setting; only http(s) URLs are accepted."""
    urls = tuple(u for u in (raw or "").replace(",", " ").split() if u)
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"webhook URLs must be http(s): {', '.join(bad)}")
    return urls


@dataclass
class WebhookStats:
    """What the sender has done so far."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # the queue was full


@dataclass
class WebhookSender:
    """Delivers instruction events to ``urls`` on a worker thread (start with :meth:`start`)."""

    urls: Sequence[str]
    secret: str
    failed_path: Path | None = None
    attempts: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 5.0
    stats: WebhookStats = field(default_factory=WebhookStats)
    post: Callable[[str, bytes, dict[str, str], float], int] | None = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue[InstructionEvent | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> WebhookSender:
        """Start the worker thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fanzha-webhooks", daemon=True)
            self._thread.start()
        return self

    def __call__(self, event: InstructionEvent) -> None:
        """Hand ``event`` over for delivery (any thread, never blocks)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (waiting at most ``timeout_s``), then stop the worker."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            body = json.dumps(
                {**event.to_json(), "delivery": str(uuid.uuid4())}, ensure_ascii=False
            ).encode()
            for url in self.urls:
                self._deliver(url, event, body)

    def _deliver(self, url: str, event: InstructionEvent, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Fanzha-Event": event.kind.value,
            "X-Fanzha-Delivery": json.loads(body)["delivery"],
            "X-Fanzha-Signature": signature(self.secret, body),
        }
        post = self.post or _post
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                with self._lock:
                    self.stats.retried += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                status = post(url, body, headers, self.timeout_s)
            except OSError as exc:  # refused, timed out, DNS: all retryable
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                with self._lock:
                    self.stats.delivered += 1
                return
            reason = f"HTTP {status}"
        with self._lock:
            self.stats.failed += 1
        # The URL may carry a token in its query: log the host only.
        log.warning("webhook to %s failed after %d attempts: %s", _host(url), self.attempts, reason)
        self._keep_failed(url, headers, body, reason)

    def _keep_failed(self, url: str, headers: dict[str, str], body: bytes, reason: str) -> None:
        if self.failed_path is None:
            return
        record: dict[str, Any] = {
            "url": url,
            "headers": headers,
            "body": body.decode(),
            "reason": reason,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.failed_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.failed_path.open("a", encoding="utf-8") as fh:
            fh.write(line)


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
