"""One referral driven end to end through the HTTP API, as the people and systems around a pathway drive it: a
designer deploys it, a referrer starts it, the point of access's operators work its tasks, the receiving
services' systems act on their hand-offs, the operating organisation's workers do its external tasks, and time
passes on the pinned clock (the ticker's part — due timers and OLA clocks — done through the engine). Every
read of the referral first proves that its stored state survives a load and a save."""

from __future__ import annotations

import io
from datetime import timedelta

from tests.conftest import PROCESSES, SOPS, stored_instance
from tests.support.personas import DESIGNER, GP

OPEN = ("requested", "received", "accepted", "in-progress", "on-hold")


class PathwayDesk:
    def __init__(self, http, signpost, clock, point_of_access: str):
        self.http = http
        self.signpost = signpost
        self.clock = clock
        signpost.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "tests")
        signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
        organisation = signpost.services.get(point_of_access).organisation
        self.operator = self._headers("operator", organisation, {"operator"}, point_of_access)
        self.worker = self._headers("worker", organisation, {"service"})
        self.referrer = GP.enrol(signpost).headers
        self._service_headers: dict[str, dict] = {}
        self.referral_id: str | None = None

    @classmethod
    def deployed(cls, http, signpost, clock, point_of_access: str, pathway: str, files) -> PathwayDesk:
        """A desk at ``point_of_access`` with ``pathway`` deployed from ``files`` (of processes/)."""
        desk = cls(http, signpost, clock, point_of_access)
        assert desk.deploy(pathway, *files)["process_id"] == pathway
        return desk

    def _headers(self, name, organisation, roles, service=None) -> dict[str, str]:
        _client, token = self.signpost.clients.create(
            name=name, organisation=organisation, roles=roles, service=service
        )
        return {"Authorization": f"Bearer {token}"}

    def _ok(self, response, status=200) -> dict:
        assert response.status_code == status, response.json
        return response.json

    def deploy(self, key: str, *filenames: str) -> dict:
        form = {"files": [(io.BytesIO((PROCESSES / n).read_bytes()), n) for n in filenames], "key": key}
        return self._ok(
            self.http.post(
                "/api/v1/definitions",
                data=form,
                headers=DESIGNER.enrol(self.signpost).headers,
                content_type="multipart/form-data",
            ),
            201,
        )

    def start(self, pathway: str, data: dict, referrer: str = "C81001") -> dict:
        body = {"pathway": pathway, "referrer": referrer, "subject": "9434765919", "data": data}
        started = self._ok(self.http.post("/api/v1/referrals", json=body, headers=self.referrer), 201)
        self.referral_id = started["id"]
        return self.referral()

    def referral(self) -> dict:
        """The referral as its point of access reads it, after proving that its stored state survives a
        load and a save unchanged."""
        row = stored_instance(self.signpost, self.referral_id)
        runtime = self.signpost.runtime
        pathway = self.signpost.definitions.pathway(row["version_id"])
        assert runtime.dump(runtime.load(pathway, row["state"], row["serializer_version"])) == row["state"]
        return self._ok(self.http.get(f"/api/v1/referrals/{self.referral_id}", headers=self.operator))

    def tasks(self) -> list[str]:
        return sorted(t["element_id"] for t in self.referral()["waiting_for"]["tasks"])

    def complete(self, element_id: str, data: dict) -> dict:
        [task] = [t for t in self.referral()["waiting_for"]["tasks"] if t["element_id"] == element_id]
        url = f"/api/v1/tasks/{task['id']}/complete"
        return self._ok(self.http.post(url, json={"data": data}, headers=self.operator))

    def service_acts(self, service_id: str, action: str, body: dict | None = None) -> dict:
        [handoff] = [
            h for h in self.referral()["handoffs"] if h["to_service"] == service_id and h["status"] in OPEN
        ]
        url = f"/api/v1/handoffs/{handoff['id']}/{action}"
        self._ok(self.http.post(url, json=body or {}, headers=self._service(service_id)))
        return self.referral()

    def _service(self, service_id: str) -> dict[str, str]:
        organisation = self.signpost.services.get(service_id).organisation
        if organisation not in self._service_headers:
            self._service_headers[organisation] = self._headers(organisation, organisation, {"service"})
        return self._service_headers[organisation]

    def external_task(self, topic: str, data: dict | None = None, error: str | None = None) -> dict:
        lock = {"worker_id": "worker-1", "topics": [topic], "max_tasks": 1, "lease_seconds": 60}
        [task] = self._ok(
            self.http.post("/api/v1/external-tasks/fetch-and-lock", json=lock, headers=self.worker)
        )
        if error is None:
            answer = ("complete", {"worker_id": "worker-1", "data": data or {}})
        else:
            answer = ("bpmn-error", {"worker_id": "worker-1", "code": error})
        url = f"/api/v1/external-tasks/{task['id']}/{answer[0]}"
        self._ok(self.http.post(url, json=answer[1], headers=self.worker))
        return self.referral()

    def message(self, name: str, data: dict) -> dict:
        body = {"name": name, "correlation": {"referral_id": self.referral_id}, "data": data}
        self._ok(self.http.post("/api/v1/messages", json=body, headers=self.operator), 202)
        return self.referral()

    def wait(self, delta: timedelta) -> dict:
        """Time passes; the ticker raises the OLA warnings and breaches now due, then fires the timers (a
        breach falls due at its target, a timer fires just after its due time)."""
        self.clock.shift(delta)
        self.signpost.olas.attend_due()
        self.signpost.timers.fire_due()
        return self.referral()

    def event_kinds(self) -> list[str]:
        url = f"/api/v1/referrals/{self.referral_id}/events"
        return [e["kind"] for e in self._ok(self.http.get(url, headers=self.operator))]
