"""The service directory: who can be routed to, for which referral types, and how they receive work."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

from engine import clock
from engine.errors import InvalidInput, NotFound
from engine.olas.calendars import CALENDARS as SHIPPED_CALENDARS
from engine.store import services as service_store
from engine.store.db import Database

KINDS = ("point-of-access", "receiving")
# The OLA calendars ship with these names; a service naming another would have clocks nobody can run.
CALENDARS = tuple(SHIPPED_CALENDARS)
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")
REFERRAL_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$")
FIELDS = {"id", "name", "organisation", "kind", "accepts", "pathways", "calendar", "delivery", "description"}
PATHWAY_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    organisation: str
    kind: str
    accepts: tuple[str, ...]
    calendar: str
    delivery: dict
    description: str | None = None
    pathways: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {**asdict(self), "accepts": list(self.accepts), "pathways": list(self.pathways)}


def service_from(entry: dict, where: str) -> Service:
    """Validate one directory entry (from the TOML file or the API); InvalidInput says what is wrong."""
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where}: a service must be a table of fields")
    unknown = set(entry) - FIELDS
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = {"id", "name", "organisation", "kind", "accepts", "calendar", "delivery"} - set(entry)
    if missing:
        raise InvalidInput(f"{where}: missing field(s) {', '.join(sorted(missing))}")
    service_id = entry["id"]
    if not isinstance(service_id, str) or not SERVICE_ID.match(service_id):
        raise InvalidInput(f"{where}: id {service_id!r} must be 3-100 lowercase letters, digits and '-'")
    where = f"{where} (service '{service_id}')"
    for text_field in ("name", "organisation"):
        if not isinstance(entry[text_field], str) or not entry[text_field].strip():
            raise InvalidInput(f"{where}: {text_field} must be a non-empty string")
    if entry["kind"] not in KINDS:
        raise InvalidInput(f"{where}: kind must be one of {', '.join(KINDS)}, not {entry['kind']!r}")
    accepts = entry["accepts"]
    if (
        not isinstance(accepts, list)
        or not accepts
        or not all(isinstance(t, str) and REFERRAL_TYPE.match(t) for t in accepts)
    ):
        raise InvalidInput(
            f"{where}: accepts must be a non-empty list of referral types like 'community-nursing'"
        )
    pathways = entry.get("pathways", [])
    if not isinstance(pathways, list) or not all(
        isinstance(p, str) and PATHWAY_KEY.match(p) for p in pathways
    ):
        raise InvalidInput(
            f"{where}: pathways must be a list of pathway keys like 'community_nursing_referral'"
        )
    if pathways and entry["kind"] != "point-of-access":
        raise InvalidInput(
            f"{where}: only a point of access handles pathways; a receiving service takes hand-offs"
        )
    if entry["calendar"] not in CALENDARS:
        raise InvalidInput(f"{where}: unknown calendar {entry['calendar']!r} (known: {', '.join(CALENDARS)})")
    return Service(
        id=service_id,
        name=entry["name"].strip(),
        organisation=entry["organisation"].strip(),
        kind=entry["kind"],
        accepts=tuple(accepts),
        calendar=entry["calendar"],
        delivery=_delivery(entry["delivery"], where),
        description=entry.get("description"),
        pathways=tuple(dict.fromkeys(pathways)),
    )


def _delivery(delivery, where: str) -> dict:
    if not isinstance(delivery, dict) or delivery.get("mode") not in ("pull", "webhook"):
        raise InvalidInput(
            f'{where}: delivery must be {{ mode = "pull" }} or {{ mode = "webhook", url = … }}'
        )
    if delivery["mode"] == "pull":
        if set(delivery) != {"mode"}:
            raise InvalidInput(f"{where}: a pull delivery takes no other fields")
        return {"mode": "pull"}
    url = delivery.get("url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme != "https" or not parsed.hostname or set(delivery) != {"mode", "url"}:
        raise InvalidInput(f"{where}: a webhook delivery needs an https url and nothing else")
    try:
        private = not ipaddress.ip_address(parsed.hostname).is_global
    except ValueError:
        private = parsed.hostname in ("localhost",) or parsed.hostname.endswith(".localhost")
    if private:
        raise InvalidInput(f"{where}: webhook url {url!r} points at a private or loopback address")
    return {"mode": "webhook", "url": url}


def parse_directory(text: str, filename: str) -> list[Service]:
    """Every service of a directory file; InvalidInput names the file and the offending entry."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{filename}: not valid TOML: {error}") from None
    unknown = set(document) - {"service"}
    if unknown:
        raise InvalidInput(f"{filename}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    entries = document.get("service", [])
    found = [service_from(entry, f"{filename} entry {n}") for n, entry in enumerate(entries, start=1)]
    ids = [s.id for s in found]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise InvalidInput(f"{filename}: service id(s) listed twice: {', '.join(duplicated)}")
    return found


class Services:
    def __init__(self, database: Database):
        self._database = database

    def load_directory(self, text: str, filename: str, updated_by: str) -> list[Service]:
        """Create or update every service in a directory file, all or nothing."""
        found = parse_directory(text, filename)
        with self._database.write() as conn:
            for service in found:
                service_store.upsert_service(conn, _row(service, updated_by))
        return found

    def put(self, entry: dict, updated_by: str) -> tuple[Service, bool]:
        """Create or replace one service; returns it and whether it is new."""
        service = service_from(entry, "service")
        with self._database.write() as conn:
            created = service_store.service(conn, service.id) is None
            service_store.upsert_service(conn, _row(service, updated_by))
        return service, created

    def get(self, service_id: str) -> Service:
        with self._database.read() as conn:
            row = service_store.service(conn, service_id)
        if row is None:
            raise NotFound(f"no service with id '{service_id}'")
        return _service(row)

    def list(self, *, organisation: str | None = None, accepts: str | None = None) -> list[Service]:
        with self._database.read() as conn:
            found = [_service(row) for row in service_store.list_services(conn, organisation=organisation)]
        return [s for s in found if accepts is None or accepts in s.accepts]


def _row(service: Service, updated_by: str) -> dict:
    return {**service.as_dict(), "updated_at": clock.now(), "updated_by": updated_by}


def _service(row) -> Service:
    return Service(
        id=row["id"],
        name=row["name"],
        organisation=row["organisation"],
        kind=row["kind"],
        accepts=tuple(row["accepts"]),
        calendar=row["calendar"],
        delivery=row["delivery"],
        description=row["description"],
        pathways=tuple(row["pathways"] or ()),
    )
