"""Webhooks against a real HTTP server on loopback: signed bodies, retries, failures kept."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fanzha.bus import EventBus
from fanzha.dispatch.events import EventKind, InstructionEvent
from fanzha.dispatch.instruction import State
from fanzha.dispatch.levels import RiskLevel
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.webhooks import WebhookSender, parse_urls, signature

SECRET = "s3cret"
EVENT = InstructionEvent(
    kind=EventKind.ISSUED,
    instruction_id="I-1",
    unit="50010101",
    units=frozenset({"50010101"}),
    level=RiskLevel.CRITICAL,
    state=State.ISSUED,
    action="issue",
    at=dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
)


class Receiver:
    """A loopback HTTP server that answers ``status`` (one per request, the last repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                n = len(receiver.requests) - 1
                self.send_response(receiver.statuses[min(n, len(receiver.statuses) - 1)])
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ok() -> Iterator[Receiver]:
    r = Receiver([204])
    yield r
    r.close()


def _sender(urls: list[str], tmp_path: Path) -> WebhookSender:
    failed = tmp_path / "failed.jsonl"
    return WebhookSender(urls, SECRET, failed_path=failed, backoff_s=0.01, timeout_s=2).start()


def test_an_event_is_posted_signed(ok: Receiver, tmp_path: Path) -> None:
    sender = _sender([ok.url], tmp_path)
    sender(EVENT)
    sender.close()
    ((headers, body),) = ok.requests
    assert hmac.compare_digest(headers["X-Fanzha-Signature"], signature(SECRET, body))
    assert headers["X-Fanzha-Event"] == "issued"
    data = json.loads(body)
    assert data["instruction_id"] == "I-1" and data["level"] == 4 and data["unit"] == "50010101"
    assert data["delivery"] == headers["X-Fanzha-Delivery"]
    assert sender.stats.delivered == 1 and sender.stats.failed == 0
    assert not (tmp_path / "failed.jsonl").exists()


def test_a_server_error_is_retried_with_the_same_delivery_id(tmp_path: Path) -> None:
    flaky = Receiver([500, 503, 200])
    try:
        sender = _sender([flaky.url], tmp_path)
        sender(EVENT)
        sender.close()
    finally:
        flaky.close()
    assert len(flaky.requests) == 3
    assert len({h["X-Fanzha-Delivery"] for h, _ in flaky.requests}) == 1
    assert sender.stats.delivered == 1 and sender.stats.retried == 2


def test_a_delivery_that_keeps_failing_is_kept(tmp_path: Path, ok: Receiver) -> None:
    down = Receiver([500])
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    try:
        sender = _sender([down.url, refused, ok.url], tmp_path)
        sender(EVENT)
        sender.close()
    finally:
        down.close()
    assert len(down.requests) == 3 and len(ok.requests) == 1  # the others still get it
    assert sender.stats.failed == 2 and sender.stats.delivered == 1
    kept = [json.loads(line) for line in (tmp_path / "failed.jsonl").read_text().splitlines()]
    assert [k["url"] for k in kept] == [down.url, refused]
    assert kept[0]["reason"] == "HTTP 500" and "Connection" in kept[1]["reason"]
    body = kept[0]["body"].encode()
    assert kept[0]["headers"]["X-Fanzha-Signature"] == signature(SECRET, body)  # replayable


def test_the_bus_hands_events_to_listeners(ok: Receiver, tmp_path: Path) -> None:
    bus = EventBus()
    sender = _sender([ok.url], tmp_path)
    bus.listen(sender)
    bus.publish(EVENT)
    sender.close()
    assert len(ok.requests) == 1


def test_the_app_posts_its_bus_events(ok: Receiver, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, webhook_urls=ok.url, webhook_secret=SECRET)
    with App(settings) as fz:
        fz.bus.publish(EVENT)
    assert len(ok.requests) == 1  # closing the app delivers what was queued


def test_settings_are_checked(tmp_path: Path) -> None:
    assert parse_urls(" http://a/x, https://b/y ") == ("http://a/x", "https://b/y")
    assert parse_urls(None) == ()
    with pytest.raises(ValueError, match="http"):
        parse_urls("ftp://a/x")
    settings = Settings(data_dir=tmp_path, webhook_urls="http://127.0.0.1:9/x")
    with App(settings) as fz, pytest.raises(ValueError, match="SECRET"):
        _ = fz.webhooks
    with App(Settings(data_dir=tmp_path)) as fz:
        assert fz.webhooks is None
