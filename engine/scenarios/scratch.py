"""Throw-away stores for a scenario run: SQLite files in a temporary folder, never the caller's database.

A run migrates one template file, loads the service directory and OLA terms into it and deploys the pathway
files; each scenario then gets a copy of that file and a Signpost of its own built on the copy, so that no
scenario sees another's referrals, timers or clocks. The keys that would encrypt webhook secrets and sign
the audit trail are made for the run and forgotten with it.

Where the directory comes from (``Directory``): the command line reads ``sops/services.toml`` and
``sops/olas.toml`` (the files a deployment loads), the API copies what the caller's own database holds (the
directory as admins have changed it since, and the OLA terms in force), so that a draft is tested against
the services it would really route to.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from engine import clock
from engine.bpmn import SourceFile
from engine.governance.audit_keys import new_audit_key
from engine.notifications.secrets_at_rest import new_key
from engine.olas.terms import ola_as_dict, parse_olas
from engine.routing.services import parse_directory
from engine.settings import Settings
from engine.store import olas as ola_store
from engine.system import Signpost, build

DEPLOYED_BY = "scenario-run"


@dataclass(frozen=True)
class Directory:
    """The service directory and OLA terms scenarios route against: service entries as
    ``Services.put`` takes them, OLA terms as ``ola_as_dict`` writes them."""

    services: tuple[dict, ...]
    olas: tuple[tuple[str, dict], ...]  # (name, terms)

    @classmethod
    def from_files(cls, services_text: str, services_name: str, olas_text: str, olas_name: str) -> Directory:
        """From a directory file and a terms file (InvalidInput says what is wrong with either)."""
        services = parse_directory(services_text, services_name)
        olas = parse_olas(olas_text, olas_name, {s.id for s in services})
        return cls(tuple(s.as_dict() for s in services), tuple((o.name, ola_as_dict(o)) for o in olas))

    @classmethod
    def of(cls, signpost: Signpost) -> Directory:
        """What ``signpost``'s database holds now."""
        with signpost.database.read() as conn:
            terms = [(row["name"], row["terms"]) for row in ola_store.ola_terms_rows(conn)]
        return cls(tuple(s.as_dict() for s in signpost.services.list()), tuple(terms))

    def load_into(self, signpost: Signpost) -> None:
        for entry in self.services:
            signpost.services.put(entry, DEPLOYED_BY)
        rows = [
            {"name": name, "terms": terms, "updated_at": clock.now(), "updated_by": DEPLOYED_BY}
            for name, terms in self.olas
        ]
        with signpost.database.write() as conn:
            ola_store.replace_ola_terms(conn, rows)


class ScratchStores:
    """The stores of one run, in ``folder`` (which the caller removes afterwards; ``close`` first)."""

    def __init__(self, base: Settings, folder: Path):
        self._base = base
        self._folder = folder
        self._template = folder / "template.db"
        self._current = folder / "scenario.db"
        self._signpost: Signpost | None = None
        # Made for this run only: nothing stored in these files outlives it.
        self._secret_key = new_key()
        self._audit_key = new_audit_key()

    def prepare(self, directory: Directory, files: list[SourceFile]) -> dict[str, frozenset[str]]:
        """Migrate the template, load the directory and deploy ``files``: every top-level process in them
        becomes a pathway. Returns each pathway with the processes it calls; raises DefinitionInvalid when
        the files would not deploy."""
        signpost = build(self._settings(self._template))
        try:
            signpost.migrate()
            directory.load_into(signpost)
            versions = signpost.definitions.deploy_each_top_level(files, DEPLOYED_BY)
            return {
                v.key: frozenset(signpost.definitions.pathway(v.version_id).subprocess_specs)
                for v in versions
            }
        finally:
            signpost.close()

    def fresh(self) -> Signpost:
        """The run's Signpost on a fresh copy of the template. One Signpost serves every scenario of the run,
        its store replaced under it each time: its connections are closed, the file is copied over, and the
        next transaction opens the copy. What it keeps in memory is the same for every copy (statements
        compiled for the database, the pathways' compiled specs, whose version ids every copy shares), and
        building those again is most of what a short scenario would cost."""
        if self._signpost is not None:
            self._signpost.database.dispose()
        for leftover in (self._sidecar(self._current, "-wal"), self._sidecar(self._current, "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(self._template, self._current)
        if self._sidecar(self._template, "-wal").exists():
            shutil.copyfile(self._sidecar(self._template, "-wal"), self._sidecar(self._current, "-wal"))
        if self._signpost is None:
            self._signpost = build(self._settings(self._current))
        return self._signpost

    def close(self) -> None:
        if self._signpost is not None:
            self._signpost.close()
            self._signpost = None

    @staticmethod
    def _sidecar(path: Path, suffix: str) -> Path:
        return path.with_name(path.name + suffix)

    def _settings(self, path: Path) -> Settings:
        base = self._base
        return Settings(
            database_url=f"sqlite:///{path}",
            expression_time_limit_seconds=base.expression_time_limit_seconds,
            sandbox_workers=base.sandbox_workers,
            sandbox_memory_bytes=base.sandbox_memory_bytes,
            max_upload_bytes=base.max_upload_bytes,
            max_instance_data_bytes=base.max_instance_data_bytes,
            require_pathway_approval=False,
            rate_limit="off",
            rate_limit_failed_auth="off",
            secret_keys=(self._secret_key,),
            audit_keys=(self._audit_key,),
        )
