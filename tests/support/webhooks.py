"""A webhook receiver on 127.0.0.1 (``http.server``) that checks each signature with the
``standardwebhooks`` library before it accepts a delivery, as a subscriber's endpoint would; and the
``receiver`` fixture, registered from tests/conftest.py (``pytest_plugins``)."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WAIT_SECONDS = 60  # how long a test waits for a delivery (or anything else on the far side) to arrive


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    signatures: list[str]
    body: str
    answered: int
    verified_by: tuple[int, ...]  # which of the secrets expected at this path verify the request

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def number(self) -> int:
        return self.payload["data"]["event_number"]


class Receiver:
    """A webhook endpoint that accepts a delivery (204) only if ``standardwebhooks`` verifies it with a secret
    expected at its path (401 otherwise), and that can be told to be down (503), gone (410), moved (307) or
    slow."""

    def __init__(self):
        self.secrets: dict[str, list[str]] = {}
        self.mode = "up"  # up | down | gone | moved
        self.retry_after: str | None = None
        self.redirect_to: str | None = None
        self.hold_seconds = 0.0  # each request waits this long (or until released) before it is answered
        self.release = threading.Event()
        self.arrivals: queue.Queue[Received] = queue.Queue()
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect(self, path: str, *secrets: str) -> None:
        self.secrets[path] = list(secrets)

    def received(self, path: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self._received if path is None or r.path == path]

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.received(path) if r.answered == 204]

    def wait_until(self, predicate, timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self._received)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"the receiver never got what was awaited: {self._received}")
                self._changed.wait(remaining)

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str, headers: dict, body: str) -> Received:
        secrets = self.secrets.get(path, [])
        verified_by = tuple(i for i, secret in enumerate(secrets) if _verifies(secret, body, headers))
        answered = {"down": 503, "gone": 410, "moved": 307}.get(self.mode, 204 if verified_by else 401)
        record = Received(
            path=path,
            webhook_id=headers.get("webhook-id", ""),
            signatures=headers.get("webhook-signature", "").split(),
            body=body,
            answered=answered,
            verified_by=verified_by,
        )
        with self._changed:
            self._received.append(record)
            self._changed.notify_all()
        self.arrivals.put(record)
        return record

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                record = receiver._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.hold_seconds:
                    receiver.release.wait(receiver.hold_seconds)
                try:
                    self.send_response(record.answered)
                    if record.answered == 503 and receiver.retry_after:
                        self.send_header("Retry-After", receiver.retry_after)
                    if record.answered == 307:
                        self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (a killed worker): it never hears the answer

            def log_message(self, *_args):
                pass

        return Handler


def _verifies(secret: str, body: str, headers: dict) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()
