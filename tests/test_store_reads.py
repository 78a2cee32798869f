"""What a change does not read again: rows read once per transaction are read afresh by the next one and
after a write in the same one, and what a change answers without reading it back is what a later read
returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from engine.store import audit_log as audit_store
from engine.store import olas as ola_store
from engine.store import services as service_store
from engine.store.db import note_change
from engine.system import build
from tests.conftest import SOPS

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
CITY = "community-nursing-city"
WOUND_CARE = {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True}


@pytest.fixture
def olas(signpost, directory):
    return signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")


def test_reference_data_is_kept_between_transactions_until_another_process_changes_it(
    signpost, directory, olas, settings
):
    another_process = build(settings)  # its own engine and connections, as a second API process has
    sent: list[str] = []
    sa.event.listen(signpost.database.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))

    def read_everything() -> tuple:
        with signpost.database.read() as conn:
            return (
                service_store.service(conn, CITY)["name"],
                service_store.services_by_id(conn, [CITY, "no-such-service"]).keys(),
                len(ola_store.ola_terms_rows(conn)),
                [c["reason"] for c in ola_store.closures_of_calendar(conn, "office-hours")],
            )

    first = read_everything()
    assert first == ("City community nursing", {CITY}, len(olas), [])
    sent.clear()
    assert read_everything() == first
    [read] = [statement for statement in sent if statement.startswith("SELECT")]
    assert "FROM reference_versions" in read  # the version alone: nothing else is read again

    try:
        with another_process.database.write() as conn:
            row = dict(service_store.service(conn, CITY))
            service_store.upsert_service(conn, {**row, "name": "City nursing"})
            ola_store.replace_ola_terms(conn, [])
            ola_store.insert_closure(
                conn,
                calendar="office-hours",
                starts_at=START,
                ends_at=START + timedelta(days=1),
                reason="local holiday",
                created_by="tests",
                created_at=START,
            )
    finally:
        another_process.close()
    assert read_everything() == ("City nursing", {CITY}, 0, ["local holiday"])


def test_a_transaction_reads_back_what_it_wrote(signpost, directory, olas):
    with signpost.database.write() as conn:
        row = dict(service_store.service(conn, CITY))
        calendar = row["calendar"]
        assert ola_store.closures_of_calendar(conn, calendar) == []
        assert ola_store.ola_terms_rows(conn)

        service_store.upsert_service(conn, {**row, "name": "City nursing"})
        closure_id = ola_store.insert_closure(
            conn,
            calendar=calendar,
            starts_at=START,
            ends_at=START + timedelta(days=1),
            reason="local holiday",
            created_by="tests",
            created_at=START,
        )
        ola_store.replace_ola_terms(conn, [])

        assert service_store.service(conn, CITY)["name"] == "City nursing"
        assert [c["id"] for c in ola_store.closures_of_calendar(conn, calendar)] == [closure_id]
        assert ola_store.ola_terms_rows(conn) == []
        assert ola_store.delete_closure(conn, calendar, closure_id)
        assert ola_store.closures_of_calendar(conn, calendar) == []


def test_a_new_referral_and_each_hand_off_action_answer_what_a_fresh_read_returns(
    signpost, nursing, olas, gp, nursing_team
):
    with time_machine.travel(START, tick=False) as traveller:
        referral, _ = signpost.referrals.start(
            gp,
            pathway="community_nursing_referral",
            version=None,
            referrer="C81001",
            subject="9434765919",
            data=WOUND_CARE,
        )
        assert referral == signpost.referrals.get(referral["id"], gp)
        [handoff] = referral["handoffs"]
        for action, body in (
            ("acknowledge", {}),
            ("request-information", {"question": "Is the wound infected?"}),
            ("accept", {"window": "Tue 14:00-16:00"}),
            ("start", {}),
            ("complete", {"outcome": "wound dressed"}),
        ):
            traveller.shift(timedelta(minutes=20))
            if action == "accept":
                signpost.handoffs.supply_information(referral["id"], {"infected": False}, gp)
            answer = signpost.handoffs.act(handoff["id"], action, body, nursing_team)
            fresh = signpost.handoffs.get(handoff["id"], nursing_team)
            assert answer == {k: v for k, v in fresh.items() if k != "transitions"}
            assert fresh["transitions"][-1]["action"] == action
        after = signpost.referrals.get(referral["id"], gp)
        assert after["status"] == "completed"
        assert {c["state"] for c in after["clocks"]} <= {"met", "cancelled"}


def test_the_referrals_a_change_touched_are_found_by_index_whatever_the_number_of_referrals(signpost):
    """The audit record of every change lists the referrals it touched: that look-up must not read every
    referral (it once did, an OR of IN (subquery) conditions, and a lifecycle slowed with the database)."""
    sent: list[str] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM referrals" in statement:
            sent.append((statement, parameters))

    with signpost.database.write() as conn:
        note_change(conn, "instance", "instance-1")
        note_change(conn, "handoff", "handoff-1")
        note_change(conn, "user_task", "task-1")
        sa.event.listen(conn, "before_cursor_execute", keep)
        try:
            assert audit_store.referrals_changed(conn) == set()
        finally:
            sa.event.remove(conn, "before_cursor_execute", keep)
        [(statement, parameters)] = sent
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a scan only where no index serves
            plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
            assert not [line for line in plan if "Seq Scan on referrals" in line], plan
        else:
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            assert not [line for line in plan if line.startswith("SCAN referrals")], plan
