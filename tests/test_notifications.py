"""Progress notifications end to end: a referrer hears every milestone of a community nursing referral, signed
and in order, by webhook and by email, and misses nothing across a receiver outage or a worker crash.

Everything on the far side is real and written by others: a webhook receiver on 127.0.0.1 (``http.server``)
that checks each signature with the ``standardwebhooks`` library before it accepts a delivery, and an SMTP
server (``aiosmtpd``). Time moves with ``time_machine``, in every thread of this process, so the receiver
checks timestamps against the same clock the engine signs with.
"""

from __future__ import annotations

import email
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.utils import format_datetime
from itertools import pairwise

import pytest
import time_machine
from aiosmtpd.controller import Controller

from engine.notifications.deliveries import RETRY_DELAYS
from engine.settings import Settings
from engine.system import build
from tests.conftest import AUDIT_KEYS, SECRET_KEYS, SOPS, process_env
from tests.support.net import free_port
from tests.support.personas import GP_PRACTICE
from tests.support.referrals import POSTCODE, REFERRAL
from tests.support.webhooks import WAIT_SECONDS, Received, Receiver

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; Europe/London is on GMT, so local time = UTC
NHS_NUMBER = "9434765919"
JOURNEY = [
    "referral.received",
    "referral.triaged",
    "referral.routed",
    "ola.warning",
    "referral.accepted",
    "referral.visit_scheduled",
    "referral.completed",
]
PAYLOAD_KEYS = {"type", "timestamp", "data"}
DATA_KEYS = {"referral_id", "reference", "status", "status_text", "event_number", "links"}


# ---- a webhook receiver and a mail server --------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every message, or refuses them all while ``refusing`` is set."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []  # the envelope's, message by message
        self.refusing = False

    async def handle_DATA(self, _server, _session, envelope):
        if self.refusing:
            return "451 4.3.0 mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def updates(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def subject(message) -> str:
    # A long Subject is folded ("Subject:" CRLF SP "Referral ..."): its text starts after the folding space.
    return message["Subject"].strip()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def settings(database_url, mailbox) -> Settings:
    """The suite's settings, with webhooks to 127.0.0.1 allowed and email through the local SMTP server."""
    return Settings(
        database_url=database_url,
        expression_time_limit_seconds=0.5,
        require_pathway_approval=False,
        webhook_allow_private=True,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        secret_keys=SECRET_KEYS,
        audit_keys=AUDIT_KEYS,
    )


@pytest.fixture
def pathway(signpost, nursing):
    """The community nursing pathway with the OLA terms of sops/olas.toml, so that warnings happen."""
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    return nursing


@pytest.fixture
def other_gp_headers(token_for):
    """A GP practice other than the ``gp`` persona's."""
    return token_for("referrer", organisation="rutland-gp-practice")


@pytest.fixture
def strict(database_url):
    """A second system on the same database that refuses private webhook addresses, as production does."""
    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            secret_keys=SECRET_KEYS,
            audit_keys=AUDIT_KEYS,
        )
    )
    yield system
    system.close()


# ---- driving the journey -------------------------------------------------------------------------------


@contextmanager
def at(minutes: float) -> Iterator[None]:
    with time_machine.travel(START + timedelta(minutes=minutes), tick=False):
        yield


def subscribe(http, headers, **body) -> dict:
    response = http.post("/api/v1/subscriptions", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def submit(http, gp_headers, **extra) -> dict:
    response = http.post("/api/v1/referrals", json={**REFERRAL, **extra}, headers=gp_headers)
    assert response.status_code == 201, response.json
    return response.json


def act(
    http, gp_headers, nursing_team_headers, referral: dict, action: str, body: dict | None = None
) -> None:
    """The nursing team's system does ``action`` to the referral's open hand-off."""
    handoffs = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json["handoffs"]
    [handoff] = [h for h in handoffs if h["status"] not in ("rejected", "completed", "transferred")]
    response = http.post(
        f"/api/v1/handoffs/{handoff['id']}/{action}", json=body or {}, headers=nursing_team_headers
    )
    assert response.status_code == 200, response.json


def deliveries(http, headers, subscription_id: str) -> list[dict]:
    response = http.get(f"/api/v1/subscriptions/{subscription_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def numbers(records: list[Received]) -> list[int]:
    return [r.number for r in records]


def assert_thin(payload: dict, *clinical: str) -> None:
    """Ids, reference, event number and status words only: none of the referral's clinical free text."""
    assert set(payload) == PAYLOAD_KEYS
    assert set(payload["data"]) == DATA_KEYS
    text = json.dumps(payload).lower()
    for word in (NHS_NUMBER, "943 476 5919", POSTCODE.lower(), "le15ww", *(c.lower() for c in clinical)):
        assert word not in text, f"{word!r} in {payload}"


# ---- the journey, by webhook and by email --------------------------------------------------------------


def test_a_referrer_hears_every_milestone_of_the_journey_signed_and_in_order_by_webhook_and_email(
    signpost, http, pathway, receiver, mailbox, gp_headers, nursing_team_headers
):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        mail = subscribe(http, gp_headers, email="referrals@city-gp.example")
        receiver.expect("/gp", hook["secret"])
        assert (hook["channel"], hook["all_referrals"], hook["organisation"]) == (
            "webhook",
            True,
            GP_PRACTICE,
        )
        assert mail["secret"] is None
        referral = submit(http, gp_headers)
        assert signpost.notifications.deliver_due() == 6  # received, triaged, routed: by webhook and email
    with at(31):  # half of the hour the team has to acknowledge the hand-off
        assert signpost.olas.attend_due() == 1
        signpost.notifications.deliver_due()
    with at(40):
        act(http, gp_headers, nursing_team_headers, referral, "acknowledge")
        act(http, gp_headers, nursing_team_headers, referral, "accept", {"window": "Tue 14:00-16:00"})
        signpost.notifications.deliver_due()
    with at(60 * 24):
        act(http, gp_headers, nursing_team_headers, referral, "start")
        act(http, gp_headers, nursing_team_headers, referral, "complete", {"outcome": "wound dressed"})
        signpost.notifications.deliver_due()
        assert signpost.notifications.deliver_due() == 0

    webhooks = receiver.received("/gp")
    assert [r.answered for r in webhooks] == [204] * len(JOURNEY)  # every signature verified
    assert [r.payload["type"] for r in webhooks] == JOURNEY
    assert numbers(webhooks) == list(range(1, len(JOURNEY) + 1))
    assert len({r.webhook_id for r in webhooks}) == len(JOURNEY)
    for record in webhooks:
        assert record.payload["data"]["reference"] == referral["reference"]
        assert record.payload["data"]["referral_id"] == referral["id"]
        assert_thin(record.payload, "wound dressed", "medication")
    texts = {r.payload["type"]: r.payload["data"]["status_text"] for r in webhooks}
    assert texts["ola.warning"] == "City community nursing is 50% through its time limit to acknowledge"
    assert texts["referral.visit_scheduled"] == "Visit booked by City community nursing: Tue 14:00-16:00"
    warning = webhooks[JOURNEY.index("ola.warning")].payload
    assert warning["timestamp"] == (START + timedelta(minutes=30)).isoformat()  # when the threshold passed
    assert warning["data"]["links"] == {
        "referral": f"/api/v1/referrals/{referral['id']}",
        "catch_up": f"/api/v1/subscriptions/{hook['id']}/events?since=3",
    }

    emails = mailbox.updates("referrals@city-gp.example")
    assert [subject(m) for m in emails] == [
        f"Referral {referral['reference']}: {text}"
        for text in [r.payload["data"]["status_text"] for r in webhooks]
    ]
    for number, message in enumerate(emails, start=1):
        body = message.get_content()
        assert referral["reference"] in body
        assert f"(Update {number} of this subscription.)" in body
        assert f"/api/v1/referrals/{referral['id']}" in body
        for clinical in (NHS_NUMBER, POSTCODE, "wound dressed", "medication"):
            assert clinical not in body and clinical not in subject(message)
    assert len({m["Message-ID"] for m in emails}) == len(JOURNEY)

    log = deliveries(http, gp_headers, hook["id"])
    assert [(d["event_number"], d["event_type"], d["status"], d["attempts"]) for d in log] == [
        (n, kind, "delivered", 1) for n, kind in enumerate(JOURNEY, start=1)
    ]
    assert [a["status_code"] for d in log for a in d["attempt_log"]] == [204] * len(JOURNEY)
    assert [d["status"] for d in deliveries(http, gp_headers, mail["id"])] == ["delivered"] * len(JOURNEY)


def test_payloads_and_emails_carry_no_clinical_text(
    signpost, http, pathway, receiver, mailbox, gp_headers, nursing_team_headers
):
    question = "Is the ulcer on the left leg infected?"
    answer = {"infection": "Yes: cellulitis, started on flucloxacillin"}
    reason = "Patient is known to be violent towards lone workers"
    outcome = "Grade 3 pressure sore dressed"
    cancelled = "Patient died at home overnight"
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        receiver.expect("/gp", hook["secret"])
        subscribe(http, gp_headers, email="referrals@city-gp.example")
        rejected, completed, withdrawn = (
            submit(http, gp_headers),
            submit(http, gp_headers),
            submit(http, gp_headers),
        )
    with at(10):
        act(http, gp_headers, nursing_team_headers, rejected, "request-information", {"question": question})
        supplied = http.post(
            f"/api/v1/referrals/{rejected['id']}/information", json={"answer": answer}, headers=gp_headers
        )
        assert supplied.status_code == 200, supplied.json
        act(http, gp_headers, nursing_team_headers, rejected, "reject", {"reason": reason})
        act(http, gp_headers, nursing_team_headers, completed, "accept", {})
        act(http, gp_headers, nursing_team_headers, completed, "complete", {"outcome": outcome})
        response = http.post(
            f"/api/v1/referrals/{withdrawn['id']}/cancel", json={"reason": cancelled}, headers=gp_headers
        )
        assert response.status_code == 200, response.json
        signpost.notifications.deliver_due()

    kinds = {r.payload["type"] for r in receiver.accepted("/gp")}
    assert {
        "referral.information_requested",
        "referral.rejected",
        "referral.completed",
        "referral.cancelled",
    } <= kinds
    caught_up = http.get(f"/api/v1/subscriptions/{hook['id']}/events?since=0", headers=gp_headers).json
    assert [p["type"] for p in caught_up] == [r.payload["type"] for r in receiver.accepted("/gp")]
    for payload in [r.payload for r in receiver.accepted("/gp")] + caught_up:
        assert_thin(
            payload, question, answer["infection"], reason, outcome, cancelled, "cellulitis", "violent"
        )
    assert len(mailbox.messages) == len(caught_up)
    for message in mailbox.messages:
        text = (subject(message) + message.get_content()).lower()
        for clinical in (question, answer["infection"], reason, outcome, cancelled, NHS_NUMBER, POSTCODE):
            assert clinical.lower() not in text


# ---- outages, duplicates, catch-up ---------------------------------------------------------------------


def test_after_a_receiver_outage_everything_arrives_in_order_and_catch_up_returns_exactly_what_was_missed(
    signpost, http, pathway, receiver, mailbox, gp_headers, nursing_team_headers
):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        subscribe(http, gp_headers, email="referrals@city-gp.example")
        receiver.expect("/gp", hook["secret"])
        referral = submit(http, gp_headers)
        signpost.notifications.deliver_due()
    assert numbers(receiver.accepted("/gp")) == [1, 2, 3]

    receiver.mode = "down"
    mailbox.refusing = True
    with at(31):
        signpost.olas.attend_due()
        act(http, gp_headers, nursing_team_headers, referral, "accept", {"window": "Wed 09:00-12:00"})
        # Only the head of the line is tried: the events behind it wait, so they cannot overtake it.
        assert signpost.notifications.deliver_due() == 2
    log = deliveries(http, gp_headers, hook["id"])
    head, *waiting = [d for d in log if d["status"] == "pending"]
    assert (head["event_number"], head["attempts"], head["last_status_code"]) == (4, 1, 503)
    assert [(a["status_code"], a["error"]) for a in head["attempt_log"]] == [(503, "HTTP 503")]
    first_retry = datetime.fromisoformat(head["next_attempt_at"]) - (START + timedelta(minutes=31))
    assert RETRY_DELAYS[0] * 0.9 <= first_retry.total_seconds() <= RETRY_DELAYS[0] * 1.1
    assert [(d["event_number"], d["attempts"]) for d in waiting] == [(5, 0), (6, 0)]

    with at(31 + 1 / 6):  # ten seconds on: the first retry is due, and the receiver is still down
        assert signpost.notifications.deliver_due() == 2
        missed = http.get(f"/api/v1/subscriptions/{hook['id']}/events?since=3", headers=gp_headers)
    assert missed.status_code == 200
    assert [p["data"]["event_number"] for p in missed.json] == [4, 5, 6]
    assert [p["type"] for p in missed.json] == [
        "ola.warning",
        "referral.accepted",
        "referral.visit_scheduled",
    ]
    assert http.get(f"/api/v1/subscriptions/{hook['id']}/events?since=6", headers=gp_headers).json == []

    receiver.mode = "up"
    mailbox.refusing = False
    with at(31 + 1 / 6 + 6):  # past the second retry (five minutes, give or take the jitter)
        assert signpost.notifications.deliver_due() == 6
    accepted = receiver.accepted("/gp")
    assert numbers(accepted) == [1, 2, 3, 4, 5, 6]  # no gaps, in order
    assert [r.payload for r in accepted[3:]] == missed.json  # catch-up gave exactly what was later delivered
    failed = [r for r in receiver.received("/gp") if r.answered == 503]
    assert [r.number for r in failed] == [4, 4]
    assert {r.webhook_id for r in failed} == {accepted[3].webhook_id}  # the repeats share the webhook-id
    assert [subject(m).split(": ", 1)[1] for m in mailbox.updates("referrals@city-gp.example")] == [
        r.payload["data"]["status_text"] for r in accepted
    ]
    [head] = [d for d in deliveries(http, gp_headers, hook["id"]) if d["event_number"] == 4]
    assert [a["status_code"] for a in head["attempt_log"]] == [503, 503, 204]


def test_a_delivery_sent_but_not_recorded_is_sent_again_with_the_same_webhook_id(
    signpost, settings, http, pathway, receiver, gp_headers
):
    """One worker sends and hangs waiting for the answer past its lease (as if it had died); another worker
    sends the delivery again. The receiver gets it twice with one webhook-id; the late answer is ignored."""
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        receiver.expect("/gp", hook["secret"])
        submit(http, gp_headers)
        stalled = StalledWorker(settings, receiver)
        with at(1.01):  # the stalled worker's one-minute lease has run out
            assert signpost.notifications.deliver_due() == 3
        stalled.finish(receiver)
    first = stalled.held

    arrived = receiver.received("/gp")
    assert numbers(arrived) == [1, 1, 2, 3]
    assert arrived[0] == first and arrived[1].webhook_id == first.webhook_id and arrived[1].body == first.body
    assert len({r.webhook_id for r in arrived[1:]}) == 3
    log = deliveries(http, gp_headers, hook["id"])
    assert [(d["status"], d["attempts"]) for d in log] == [
        ("delivered", 2),
        ("delivered", 1),
        ("delivered", 1),
    ]
    # Only the worker that held the lease recorded its attempt.
    assert [a["attempt"] for a in log[0]["attempt_log"]] == [2]


def test_a_worker_whose_lease_ran_out_sends_nothing_more_of_its_batch(
    signpost, settings, http, pathway, receiver, gp_headers
):
    """A worker held up past its lease by one slow request must not go on to send the rest of its batch:
    another worker has sent those by then, and the events after them, so a late copy would arrive out of
    order."""
    with at(0):
        for path in ("/first", "/second"):
            receiver.expect(path, subscribe(http, gp_headers, url=receiver.url(path))["secret"])
        submit(http, gp_headers)
        stalled = StalledWorker(settings, receiver)  # holding the first of its batch of two heads
        with at(1.01):
            assert signpost.notifications.deliver_due() == 6
            stalled.finish(receiver)  # its lease has run out by the time its request is answered
    held = stalled.held
    for path in ("/first", "/second"):
        arrived = numbers(receiver.received(path))
        assert arrived == ([1] if path == held.path else []) + [1, 2, 3], (path, arrived)


class StalledWorker:
    """A second worker (its own system on the same database) delivering in a thread, held up by the receiver
    on its first request until ``finish``."""

    def __init__(self, settings: Settings, receiver: Receiver):
        self._system = build(settings)
        self._failures: list[BaseException] = []
        receiver.hold_seconds = WAIT_SECONDS
        self._thread = threading.Thread(target=self._deliver)
        self._thread.start()
        self.held = receiver.arrivals.get(timeout=WAIT_SECONDS)
        receiver.hold_seconds = 0

    def _deliver(self) -> None:
        try:
            self._system.notifications.deliver_due()
        except BaseException as error:  # re-raised in the test's own thread
            self._failures.append(error)

    def finish(self, receiver: Receiver) -> None:
        receiver.release.set()
        self._thread.join(timeout=WAIT_SECONDS)
        self._system.close()
        assert not self._thread.is_alive()
        if self._failures:
            raise self._failures[0]


@pytest.mark.wall_clock
def test_a_worker_killed_mid_delivery_loses_nothing(
    signpost, http, database_url, pathway, receiver, gp_headers, nursing_team_headers, tmp_path
):
    """Real worker processes: the first is killed with SIGKILL while a delivery is in flight, the second sends
    it again once the lease has run out, and then everything else, in order."""
    hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
    receiver.expect("/gp", hook["secret"])
    referral = submit(http, gp_headers)
    act(http, gp_headers, nursing_team_headers, referral, "accept", {"window": "Thu 10:00-12:00"})
    expected = len(http.get(f"/api/v1/subscriptions/{hook['id']}/events", headers=gp_headers).json)
    assert expected == 5  # received, triaged, routed, accepted, visit booked

    receiver.hold_seconds = 2  # a slow receiver: a delivery is in flight for two seconds
    env = process_env(
        database_url,
        PYTHONUNBUFFERED="1",
        SIGNPOST_WEBHOOK_ALLOW_PRIVATE="1",
        SIGNPOST_TICK_SECONDS="0.2",
        SIGNPOST_DELIVERY_LEASE_SECONDS="6",
    )
    first = Worker(env, tmp_path)
    try:
        in_flight = receiver.arrivals.get(timeout=WAIT_SECONDS)
    finally:
        first.kill()
    assert in_flight.number == 1
    second = Worker(env, tmp_path)
    try:
        receiver.wait_until(
            lambda got: (
                {r.number for r in got if r.answered == 204 and r is not in_flight} == set(range(1, 6))
            )
        )
    finally:
        assert second.stop() == 0, second.output()

    arrived = receiver.received("/gp")
    assert all(r.verified_by == (0,) for r in arrived)
    assert numbers(arrived) == [1, 1, 2, 3, 4, 5]  # the one in flight again, then the rest in order
    assert arrived[1].webhook_id == in_flight.webhook_id and arrived[1].body == in_flight.body
    log = deliveries(http, gp_headers, hook["id"])
    assert [d["status"] for d in log] == ["delivered"] * expected
    assert (log[0]["attempts"], [a["attempt"] for a in log[0]["attempt_log"]]) == (2, [2])


class Worker:
    """A `signpost worker` process whose output a thread collects."""

    def __init__(self, env: dict[str, str], cwd):
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self._lines.extend(self.popen.stdout), daemon=True)
        self._reader.start()

    def output(self) -> str:
        return "".join(self._lines)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=WAIT_SECONDS)
        self._reader.join(timeout=WAIT_SECONDS)

    def stop(self) -> int:
        self.popen.terminate()
        status = self.popen.wait(timeout=WAIT_SECONDS)
        self._reader.join(timeout=WAIT_SECONDS)
        return status


# ---- retries, dead letters, replay, Retry-After, 410 ---------------------------------------------------


def test_a_delivery_that_exhausts_its_retries_is_dead_and_replay_sends_it_again(
    signpost, http, pathway, receiver, gp_headers, other_gp_headers, frozen_clock
):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"), events=["referral.routed"])
        receiver.expect("/gp", hook["secret"])
        submit(http, gp_headers)
    receiver.mode = "down"
    moment = START
    for _ in range(len(RETRY_DELAYS) + 1):
        frozen_clock.move_to(moment)
        assert signpost.notifications.deliver_due() == 1
        [delivery] = deliveries(http, gp_headers, hook["id"])
        if delivery["next_attempt_at"] is None:
            break
        moment = datetime.fromisoformat(delivery["next_attempt_at"]) + timedelta(milliseconds=1)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "dead",
        len(RETRY_DELAYS) + 1,
        503,
    )
    times = [datetime.fromisoformat(a["at"]) for a in delivery["attempt_log"]]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    assert len(gaps) == len(RETRY_DELAYS)
    for gap, delay in zip(gaps, RETRY_DELAYS, strict=True):
        assert delay * 0.9 <= gap <= delay * 1.1 + 0.01  # backed off, with jitter
    assert sum(gaps) > 2.5 * 86400  # about three days in all

    frozen_clock.move_to(moment + timedelta(days=1))
    assert signpost.notifications.deliver_due() == 0  # the dead letter waits for a replay
    assert (
        http.post(f"/api/v1/deliveries/{delivery['id']}/replay", headers=other_gp_headers).status_code == 404
    )
    replayed = http.post(f"/api/v1/deliveries/{delivery['id']}/replay", headers=gp_headers)
    assert replayed.status_code == 202, replayed.json
    assert (replayed.json["status"], replayed.json["attempts"]) == ("pending", 0)
    receiver.mode = "up"
    assert signpost.notifications.deliver_due() == 1
    arrived = receiver.received("/gp")
    assert [r.answered for r in arrived] == [503] * (len(RETRY_DELAYS) + 1) + [204]
    assert {r.webhook_id for r in arrived} == {arrived[0].webhook_id}
    assert arrived[-1].payload["type"] == "referral.routed" and arrived[-1].verified_by == (0,)
    [delivery] = deliveries(http, gp_headers, hook["id"])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [("120", 120), (format_datetime(START + timedelta(minutes=10), usegmt=True), 600)],
    ids=["delay-seconds", "http-date"],
)
def test_retry_after_is_honoured(signpost, http, pathway, receiver, gp_headers, retry_after, seconds):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"), events=["referral.received"])
        receiver.expect("/gp", hook["secret"])
        submit(http, gp_headers)
        receiver.mode, receiver.retry_after = "down", retry_after
        assert signpost.notifications.deliver_due() == 1
    [delivery] = deliveries(http, gp_headers, hook["id"])
    assert datetime.fromisoformat(delivery["next_attempt_at"]) == START + timedelta(seconds=seconds)
    receiver.mode = "up"
    with at((seconds - 1) / 60):
        assert signpost.notifications.deliver_due() == 0
    with at(seconds / 60):
        assert signpost.notifications.deliver_due() == 1
    assert [r.answered for r in receiver.received("/gp")] == [503, 204]


def test_an_endpoint_that_answers_410_gone_disables_its_subscription(
    signpost, http, pathway, receiver, gp_headers, nursing_team_headers
):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        receiver.expect("/gp", hook["secret"])
        referral = submit(http, gp_headers)
        receiver.mode = "gone"
        assert signpost.notifications.deliver_due() == 1
        subscription = http.get(f"/api/v1/subscriptions/{hook['id']}", headers=gp_headers).json
        assert (subscription["status"], subscription["disabled_reason"]) == (
            "disabled",
            "the endpoint answered 410 Gone",
        )
        assert [(d["status"], d["attempts"]) for d in deliveries(http, gp_headers, hook["id"])] == [
            ("disabled", 1),
            ("disabled", 0),
            ("disabled", 0),
        ]
        act(http, gp_headers, nursing_team_headers, referral, "accept", {})
        assert signpost.notifications.deliver_due() == 0
        after = http.get(f"/api/v1/subscriptions/{hook['id']}", headers=gp_headers).json
        assert after["last_event_number"] == 3  # nothing more is numbered for it
        first = deliveries(http, gp_headers, hook["id"])[0]["id"]
        assert http.post(f"/api/v1/deliveries/{first}/replay", headers=gp_headers).status_code == 422
    assert [r.answered for r in receiver.received()] == [410]


def test_unsubscribing_stops_deliveries_and_a_subscription_hears_only_the_events_it_asked_for(
    signpost, http, pathway, receiver, gp_headers, nursing_team_headers
):
    with at(0):
        referral = submit(http, gp_headers)
        wanted = subscribe(
            http,
            gp_headers,
            referral_id=referral["id"],
            url=receiver.url("/wanted"),
            events=["referral.visit_scheduled"],
        )
        leaving = subscribe(http, gp_headers, referral_id=referral["id"], url=receiver.url("/leaving"))
        receiver.expect("/wanted", wanted["secret"])
        receiver.expect("/leaving", leaving["secret"])
        assert (wanted["referral_id"], wanted["all_referrals"]) == (referral["id"], False)
    with at(31):
        signpost.olas.attend_due()  # a warning, which only /leaving wants
        assert http.delete(f"/api/v1/subscriptions/{leaving['id']}", headers=gp_headers).status_code == 204
        act(http, gp_headers, nursing_team_headers, referral, "accept", {"window": "Fri 09:00-10:00"})
        signpost.notifications.deliver_due()
    [booked] = receiver.accepted("/wanted")
    assert (booked.payload["type"], booked.number) == ("referral.visit_scheduled", 1)
    assert receiver.received("/leaving") == []
    assert [d["status"] for d in deliveries(http, gp_headers, leaving["id"])] == ["disabled"]

    for body, problem in [
        ({"url": receiver.url("/x"), "email": "a@b.example"}, "not both"),
        ({}, "not both"),
        ({"url": receiver.url("/x"), "events": ["referral.lost"]}, "unknown event type"),
        ({"email": "not-an-address"}, "not an email address"),
    ]:
        refused = http.post("/api/v1/subscriptions", json=body, headers=gp_headers)
        assert refused.status_code == 422 and problem in refused.json["detail"], refused.json


# ---- who may subscribe, and to what ---------------------------------------------------------------------


def test_a_referrer_cannot_subscribe_to_or_read_another_organisations_notifications(
    signpost, http, pathway, receiver, gp_headers, other_gp_headers
):
    with at(0):
        own = subscribe(http, gp_headers, url=receiver.url("/gp"))
        receiver.expect("/gp", own["secret"])
        snooping = subscribe(
            http, other_gp_headers, url=receiver.url("/other")
        )  # all of the other practice's referrals
        receiver.expect("/other", snooping["secret"])
        referral = submit(http, gp_headers)
        signpost.notifications.deliver_due()
        delivery = deliveries(http, gp_headers, own["id"])[0]["id"]

    refused = http.post(
        "/api/v1/subscriptions",
        json={"referral_id": referral["id"], "url": receiver.url("/other")},
        headers=other_gp_headers,
    )
    assert refused.status_code == 404, refused.json  # another organisation's referral reads as absent
    for path in (
        f"/api/v1/subscriptions/{own['id']}",
        f"/api/v1/subscriptions/{own['id']}/events?since=0",
        f"/api/v1/subscriptions/{own['id']}/deliveries",
    ):
        assert http.get(path, headers=other_gp_headers).status_code == 404, path
    assert (
        http.post(
            f"/api/v1/subscriptions/{own['id']}/rotate-secret", json={}, headers=other_gp_headers
        ).status_code
        == 404
    )
    assert http.post(f"/api/v1/deliveries/{delivery}/replay", headers=other_gp_headers).status_code == 404
    assert http.delete(f"/api/v1/subscriptions/{own['id']}", headers=other_gp_headers).status_code == 404
    assert (
        http.get(f"/api/v1/referrals/{referral['id']}/deliveries", headers=other_gp_headers).status_code
        == 404
    )
    assert [s["id"] for s in http.get("/api/v1/subscriptions", headers=other_gp_headers).json] == [
        snooping["id"]
    ]
    assert receiver.received("/other") == []
    assert numbers(receiver.accepted("/gp")) == [1, 2, 3]


def test_webhook_urls_reaching_private_addresses_are_refused_before_any_connection(
    signpost, strict, http, pathway, receiver, gp_headers
):
    from api import create_app

    production = create_app(strict).test_client()
    for url, problem in [
        (receiver.url("/gp"), "must use https"),
        ("https://127.0.0.1/gp", "host '127.0.0.1' is not a public address"),
        (f"https://127.0.0.1:{receiver.port}/gp", "must use port 443"),
        ("https://10.0.0.1/hooks", "host '10.0.0.1' is not a public address"),
        ("https://169.254.169.254/latest/meta-data", "is not a public address"),
        ("https://[::1]/hooks", "host '::1' is not a public address"),
        ("https://localhost/hooks", "host 'localhost' does not resolve to a public address"),
        ("ftp://example.org/hooks", "absolute https URL"),
    ]:
        refused = production.post("/api/v1/subscriptions", json={"url": url}, headers=gp_headers)
        assert refused.status_code == 422 and problem in refused.json["detail"], (url, refused.json)
    refused = production.post(
        "/api/v1/referrals", json={**REFERRAL, "notify": {"url": receiver.url("/gp")}}, headers=gp_headers
    )
    assert refused.status_code == 422
    open_referrals = production.get(f"/api/v1/referrals?subject={NHS_NUMBER}", headers=gp_headers)
    assert open_referrals.json == []  # nothing was started either

    # Checked again when sending: a subscription made where private addresses were allowed is not sent.
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"), events=["referral.received"])
        receiver.expect("/gp", hook["secret"])
        submit(http, gp_headers)
        assert strict.notifications.deliver_due() == 1
    [delivery] = deliveries(http, gp_headers, hook["id"])
    assert delivery["status"] == "pending" and "must use https" in delivery["last_error"]
    assert receiver.received() == []


def test_a_one_off_notify_address_given_at_submission_hears_the_referral_from_its_receipt(
    signpost, http, pathway, receiver, mailbox, gp_headers, other_gp_headers
):
    with at(0):
        headers = {**gp_headers, "Idempotency-Key": "gp-2026-11-23-001"}
        body = {**REFERRAL, "notify": {"url": receiver.url("/once")}}
        referral = http.post("/api/v1/referrals", json=body, headers=headers).json
        again = http.post("/api/v1/referrals", json=body, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true" and again.json["id"] == referral["id"]
        one_off = referral["notification_subscription"]
        receiver.expect("/once", one_off["secret"])
        emailed = submit(
            http, gp_headers, notify={"email": "duty-gp@city-gp.example", "events": ["referral.routed"]}
        )
        signpost.notifications.deliver_due()

    arrived = receiver.received("/once")
    assert [r.answered for r in arrived] == [204, 204, 204]
    assert [(r.payload["type"], r.number) for r in arrived] == [
        ("referral.received", 1),
        ("referral.triaged", 2),
        ("referral.routed", 3),
    ]
    assert {r.payload["data"]["referral_id"] for r in arrived} == {referral["id"]}
    subscriptions = http.get("/api/v1/subscriptions", headers=gp_headers).json
    assert sorted((s["referral_id"], s["channel"]) for s in subscriptions) == sorted(
        [(referral["id"], "webhook"), (emailed["id"], "email")]
    )  # the replayed request made no second subscription
    [message] = mailbox.updates("duty-gp@city-gp.example")
    assert subject(message) == f"Referral {emailed['reference']}: Sent to City community nursing"
    assert http.get(f"/api/v1/subscriptions/{one_off['id']}", headers=other_gp_headers).status_code == 404


def test_rotating_the_secret_signs_with_both_secrets_during_the_grace_period(
    signpost, http, pathway, receiver, gp_headers, nursing_team_headers
):
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"))
        old = hook["secret"]
        receiver.expect("/gp", old)
        referral = submit(http, gp_headers)
        signpost.notifications.deliver_due()
    with at(20):
        rotated = http.post(
            f"/api/v1/subscriptions/{hook['id']}/rotate-secret",
            json={"grace_seconds": 3600},
            headers=gp_headers,
        )
        assert rotated.status_code == 200, rotated.json
        new = rotated.json["secret"]
        assert new.startswith("whsec_") and new != old
        receiver.expect("/gp", old, new)
    with at(31):  # within the grace period
        signpost.olas.attend_due()
        signpost.notifications.deliver_due()
    with at(20 + 61):  # the grace period is over
        act(http, gp_headers, nursing_team_headers, referral, "accept", {})
        signpost.notifications.deliver_due()

    arrived = receiver.received("/gp")
    assert [r.answered for r in arrived] == [204] * 5
    # Before the rotation, one signature; during the grace period, two, and either secret verifies the
    # delivery on its own; afterwards only the new one.
    assert [(r.verified_by, len(r.signatures)) for r in arrived] == [((0,), 1)] * 3 + [
        ((0, 1), 2),
        ((1,), 1),
    ]
    assert [r.payload["type"] for r in arrived[3:]] == ["ola.warning", "referral.accepted"]


def test_a_redirect_is_not_followed(signpost, http, pathway, receiver, gp_headers):
    """Following it would let a receiver point the sender at an address the URL check never saw."""
    with at(0):
        hook = subscribe(http, gp_headers, url=receiver.url("/gp"), events=["referral.received"])
        receiver.expect("/gp", hook["secret"])
        receiver.expect("/elsewhere", hook["secret"])
        receiver.mode, receiver.redirect_to = "moved", receiver.url("/elsewhere")
        submit(http, gp_headers)
        assert signpost.notifications.deliver_due() == 1
    assert [(r.path, r.answered) for r in receiver.received()] == [("/gp", 307)]
    [delivery] = deliveries(http, gp_headers, hook["id"])
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 307)


def test_a_line_break_in_a_visit_window_neither_injects_a_header_nor_stops_other_deliveries(
    signpost, http, pathway, mailbox, gp_headers, nursing_team_headers
):
    with at(0):
        subscribe(http, gp_headers, email="referrals@city-gp.example")
        odd, plain = submit(http, gp_headers), submit(http, gp_headers)
        signpost.notifications.deliver_due()
        act(
            http,
            gp_headers,
            nursing_team_headers,
            odd,
            "accept",
            {"window": "Tue 14:00-16:00\r\nBcc: someone@example.org"},
        )
        act(http, gp_headers, nursing_team_headers, plain, "accept", {"window": "Wed 09:00-11:00"})
        assert signpost.notifications.deliver_due() == 4
    booked = [m for m in mailbox.messages if "Visit booked" in subject(m)]
    assert [subject(m) for m in booked] == [
        f"Referral {odd['reference']}: Visit booked by City community nursing: Tue 14:00-16:00 Bcc: "
        "someone@example.org",
        f"Referral {plain['reference']}: Visit booked by City community nursing: Wed 09:00-11:00",
    ]
    assert all(m["Bcc"] is None for m in mailbox.messages)
    assert mailbox.recipients == [["referrals@city-gp.example"]] * 10  # five milestones of each referral
    for address in ("gp@city.example\r\nBcc: someone@example.org", "gp@city.example someone@example.org"):
        refused = http.post("/api/v1/subscriptions", json={"email": address}, headers=gp_headers)
        assert refused.status_code == 422, refused.json


# ---- the audit trail -----------------------------------------------------------------------------------


def test_every_notification_sent_is_in_the_audit_trail_with_what_the_far_side_answered(
    signpost, http, pathway, receiver, mailbox, gp_headers, auditor_headers
):
    closed_port = free_port()
    with at(0):
        hook = subscribe(
            http, gp_headers, url=receiver.url("/gp?token=in-the-query"), events=["referral.received"]
        )
        receiver.expect("/gp?token=in-the-query", hook["secret"])
        unreachable = subscribe(
            http, gp_headers, url=f"http://127.0.0.1:{closed_port}/hook", events=["referral.received"]
        )
        mail = subscribe(http, gp_headers, email="referrals@city-gp.example", events=["referral.received"])
        mailbox.refusing = True
        referral = submit(http, gp_headers)
        assert signpost.notifications.deliver_due() == 3
    with at(1):
        mailbox.refusing = False
        assert signpost.notifications.deliver_due() == 2  # the email and the unreachable webhook, retried

    trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=auditor_headers)
    assert trail.status_code == 200, trail.json
    sent = [
        (r["resource"], r["resource_id"], r["outcome"], r["organisation"])
        for r in trail.json
        if r["actor"] == "signpost:notifier"
    ]
    assert sorted(sent) == sorted(
        [
            ("webhook 127.0.0.1", hook["id"], 204, GP_PRACTICE),
            ("webhook 127.0.0.1", unreachable["id"], 0, GP_PRACTICE),  # nothing answered
            ("webhook 127.0.0.1", unreachable["id"], 0, GP_PRACTICE),
            ("email city-gp.example", mail["id"], 451, GP_PRACTICE),  # the server's "try again later"
            ("email city-gp.example", mail["id"], 250, GP_PRACTICE),
        ]
    )
    notified = [r for r in trail.json if r["actor"] == "signpost:notifier"]
    assert {(r["action"], r["referral_id"], r["source"]) for r in notified} == {
        ("disclose", referral["id"], None)
    }
    assert not any("in-the-query" in r["resource"] or "referrals@" in r["resource"] for r in notified)
    assert signpost.audit.verify().intact
