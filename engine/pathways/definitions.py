"""Deploying pathway definitions as immutable, numbered versions, and finding them again."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine import clock
from engine.bpmn import (
    STATE_FORMAT,
    CodeProblem,
    CompiledPathway,
    Operation,
    ParsedDeployment,
    SourceFile,
    code_problem,
)
from engine.errors import (
    Conflict,
    DefinitionInvalid,
    DuplicateKey,
    InvalidInput,
    NotAllowed,
    NotFound,
    Problem,
)
from engine.governance import audit
from engine.governance.clients import Client, client_of
from engine.pathways.companions import checked_companions, is_companion
from engine.pathways.file_names import refuse_duplicate_names, refuse_unstorable_names
from engine.pathways.go_lives import live_version
from engine.pathways.library import library, version_views
from engine.pathways.variants import checked_blueprints, store_blueprints
from engine.sandbox.evaluator import PathwayCode
from engine.store import api_clients as client_store
from engine.store import definitions as definition_store
from engine.store.db import Database

# An approval's reason, in the approver's words: at least one character besides spaces, at most this many.
LONGEST_APPROVAL_REASON = 2000
# The code a designer can have checked on its own (``Definitions.check_code``).
CODE_KINDS = ("expression", "script")


@dataclass(frozen=True)
class DeployedVersion:
    key: str
    number: int
    version_id: int
    sha256: str
    process_id: str
    deployed_by: str
    deployed_at: object
    created: bool
    files: list[dict]


class PathwayCache:
    """Compiled specs by version id. Versions never change, so an entry is valid for the process's life."""

    def __init__(self, database: Database, capacity: int = 256):
        self._database = database
        self._capacity = capacity
        self._entries: OrderedDict[int, CompiledPathway] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int) -> CompiledPathway:
        with self._lock:
            if version_id in self._entries:
                self._entries.move_to_end(version_id)
                return self._entries[version_id]
        with self._database.read() as conn:
            pathway = CompiledPathway.load(definition_store.compiled_spec(conn, version_id))
        self.put(version_id, pathway)
        return pathway

    def put(self, version_id: int, pathway: CompiledPathway) -> None:
        with self._lock:
            self._entries[version_id] = pathway
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


class Definitions:
    def __init__(
        self,
        database: Database,
        evaluator: PathwayCode,
        pathways: PathwayCache,
        max_file_bytes: int,
        operations: Mapping[str, Operation] | None = None,
        *,
        approval_required: bool = True,
        calendars: Iterable[str] = (),
    ):
        """``approval_required``: new referrals start only on clinically approved versions (the library
        says which version they start on accordingly). ``calendars``: those a blueprint may name."""
        self._approval_required = approval_required
        self._calendars = tuple(calendars)
        self._operations = operations or {}
        self._database = database
        self._evaluator = evaluator
        self._pathways = pathways
        self._max_file_bytes = max_file_bytes

    def deploy(self, files: list[SourceFile], deployed_by: str, key: str | None = None) -> DeployedVersion:
        """Validate ``files`` together and store them as the next version of ``key`` (the process id of
        the deployment's one top-level process when not given). Identical content returns the existing
        version. Raises DefinitionInvalid listing every problem; nothing is stored then."""
        return self._store(*self._checked(files, key), deployed_by)

    def validate(self, files: list[SourceFile], key: str | None = None) -> list[Problem]:
        """The problems ``deploy`` would refuse ``files`` for (an empty list when it would deploy them), found
        by the very same checks; nothing is stored. Raises DefinitionInvalid only when there are no files."""
        _refuse_no_files(files)
        try:
            self._checked(files, key)
        except DefinitionInvalid as invalid:
            return invalid.problems
        return []

    def check_code(self, code: str, kind: str) -> list[CodeProblem]:
        """What a deployment would be refused for in one expression or script (``kind`` 'expression' or
        'script'), by the same checks; an empty list when it would pass. Nothing runs: the code is checked
        as deployed code is, in the sandbox when it could compute anything."""
        if kind not in CODE_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(CODE_KINDS)}, not {kind!r}")
        found = code_problem(self._evaluator, code, kind)
        return [found] if found else []

    def _checked(self, files: list[SourceFile], key: str | None) -> tuple[CompiledPathway, list[dict], dict]:
        """Everything a deployment checks, in order: the files, the process to deploy, its expressions, the
        files' encoding and its blueprints (``variants.py``). The compiled pathway, the rows to store and the
        blueprints, or DefinitionInvalid."""
        _refuse_no_files(files)
        parsed = self._parsed(files)
        pathway = parsed.compile(key or _single_top_level(parsed))
        return pathway, _file_rows(files), self._blueprints(files, parsed, pathway)

    def _blueprints(self, files, parsed: ParsedDeployment, pathway: CompiledPathway) -> dict:
        with self._database.read() as conn:
            ids = parsed.executable_process_ids
            return checked_blueprints(conn, files, ids, pathway, self._calendars, parsed.files_of)

    def deploy_each_top_level(self, files: list[SourceFile], deployed_by: str) -> list[DeployedVersion]:
        """Deploy every top-level process found in ``files``, each with all the files (the command line's
        ``signpost deploy DIR…``: call activities and DMN may sit in any of the given files)."""
        parsed = self._parsed(files)
        compiled = [parsed.compile(pid) for pid in parsed.top_level_process_ids()]
        blueprints = [self._blueprints(files, parsed, pathway) for pathway in compiled]
        rows = _file_rows(files)
        return [self._store(p, rows, b, deployed_by) for p, b in zip(compiled, blueprints, strict=True)]

    def _parsed(self, files: list[SourceFile]) -> ParsedDeployment:
        """The diagrams among ``files`` parsed and checked, and the companions (forms, scenarios) checked,
        with the form each user task names among them; DefinitionInvalid lists the problems of all."""
        refuse_duplicate_names(files)
        refuse_unstorable_names(files)
        diagrams = [f for f in files if not is_companion(f.filename)]
        companions = [f for f in files if is_companion(f.filename)]
        forms, problems = checked_companions(companions, self._max_file_bytes)
        try:
            parsed = ParsedDeployment(
                diagrams, self._evaluator, self._max_file_bytes, self._operations, forms.problem_with
            )
        except DefinitionInvalid as invalid:
            raise DefinitionInvalid(problems + invalid.problems) from None
        if problems:
            # The diagrams' own problems appear when their processes compile: report them all at once.
            for process_id in parsed.top_level_process_ids():
                try:
                    parsed.compile(process_id)
                except DefinitionInvalid as invalid:
                    problems += invalid.problems
            raise DefinitionInvalid(problems)
        return parsed

    def _store(self, pathway: CompiledPathway, file_rows, blueprints, deployed_by) -> DeployedVersion:
        process_id = pathway.process_id
        sha256 = _sha256("\n".join(sorted(row["sha256"] for row in file_rows)).encode())
        compiled = pathway.dump()
        for _attempt in range(3):
            try:
                return self._insert_version(pathway, sha256, compiled, file_rows, blueprints, deployed_by)
            except DuplicateKey:
                continue  # a concurrent deploy took the same number: read again and take the next one
        raise Conflict(
            f"could not deploy '{process_id}': concurrent deployments kept taking the version number"
        )

    def _insert_version(self, pathway, sha256, compiled, file_rows, blueprints, deployed_by):
        key, now = pathway.process_id, clock.now()
        with self._database.write() as conn:
            existing = definition_store.version_by_sha(conn, key, sha256)
            if existing is not None:
                return _deployed(
                    existing, created=False, files=definition_store.files_of_version(conn, existing["id"])
                )
            if definition_store.definition(conn, key) is None:
                definition_store.insert_definition(conn, key=key, name=pathway.name, created_at=now)
            values = dict(
                definition_key=key,
                number=definition_store.next_version_number(conn, key),
                sha256=sha256,
                process_id=key,
                compiled_spec=compiled,
                serializer_version=STATE_FORMAT,
                deployed_by=deployed_by,
                deployed_at=now,
            )
            version_id = definition_store.insert_version(conn, **values)
            definition_store.insert_files(conn, version_id, file_rows)
            store_blueprints(conn, version_id, key, blueprints)
        self._pathways.put(version_id, pathway)
        return _deployed({**values, "id": version_id}, created=True, files=file_rows)

    def list(self) -> list[dict]:
        """The library: every definition with its versions (``library.py``)."""
        with self._database.read() as conn:
            return library(conn, approval_required=self._approval_required)

    def get(self, key: str) -> dict:
        with self._database.read() as conn:
            found = library(conn, approval_required=self._approval_required, key=key)
        if not found:
            raise NotFound(f"no definition with key '{key}'")
        return found[0]

    def version(self, key: str, number: int | None = None, *, with_files: bool = False) -> dict:
        with self._database.read() as conn:
            found = definition_store.version(conn, key, number)
            if found is None:
                if number is None or definition_store.definition(conn, key) is None:
                    raise NotFound(f"no definition with key '{key}' has been deployed")
                raise NotFound(f"definition '{key}' has no version {number}")
            result = self._version_view(conn, key, found["number"])
            if with_files:
                result["files"] = [dict(f) for f in definition_store.files_of_version(conn, found["id"])]
            return result

    def _version_view(self, conn, key: str, number: int) -> dict:
        views = version_views(
            conn, definition_store.versions_of(conn, key), self._approval_required, all_of=key
        )
        return next(view for view in views if view["number"] == number)

    def startable(
        self, key: str, number: int | None, *, approval_required: bool, conn=None, at: Mapping | None = None
    ) -> dict:
        """The version new referrals start on: the one named, else the one live at point of access ``at`` (its
        directory row; None when no point of access handles the referral) once the pathway has gone live
        anywhere (``go_live_rule.py``), else the latest (latest approved when approval is required). Raises
        Conflict for a draft when approval is required. Reads in ``conn``'s transaction when given, else in
        one of its own."""
        if conn is None:
            with self._database.read() as own:
                return self.startable(key, number, approval_required=approval_required, conn=own, at=at)
        found = live_version(conn, key, at and at["id"]) if number is None else None
        if found is None:
            found = definition_store.version(conn, key, number, approved_only=approval_required)
        if found is None:
            if definition_store.definition(conn, key) is None:
                raise NotFound(f"no definition with key '{key}' has been deployed")
            if number is None:
                raise Conflict(f"no version of '{key}' has been clinically approved yet")
            raise NotFound(f"definition '{key}' has no version {number}")
        if approval_required and found["approval"] != "approved":
            raise Conflict(f"version {found['number']} of '{key}' is a draft awaiting clinical approval")
        return dict(found)

    def approve(self, key: str, number: int, approver: Client, *, reason: str) -> dict:
        """Record a clinical approval and its ``reason`` (1 to 2,000 characters, kept with the version). The
        approver needs the clinical-approver role and must not be the one who deployed the version (a second
        pair of eyes, as DCB0129 expects): not the same client, nor another client of the same person
        (``Client.person``)."""
        reason = _approval_reason(reason)
        if not approver.roles & {"clinical-approver"}:
            raise NotAllowed("approving a pathway needs the clinical-approver role")
        with self._database.write() as conn:
            found = definition_store.version(conn, key, number)
            if found is None:
                raise NotFound(f"definition '{key}' has no version {number}")
            if found["deployed_by"] == approver.actor or (
                approver.person is not None and _person_of(conn, found["deployed_by"]) == approver.person
            ):
                raise NotAllowed(
                    "the person who deployed a version cannot also approve it: another person with the "
                    f"clinical-approver role must approve version {number} of '{key}'"
                )
            if not definition_store.approve_version(conn, found["id"], approver.actor, clock.now(), reason):
                raise Conflict(f"version {number} of '{key}' is already {found['approval']}")
            audit.append(
                conn,
                audit.Entry("approve", f"pathway {key} version {number}", str(found["id"]), None, 200, None),
                actor=approver.actor,
                organisation=approver.organisation,
                roles=sorted(approver.roles),
            )
            return self._version_view(conn, key, number)

    def pathway(self, version_id: int) -> CompiledPathway:
        return self._pathways.get(version_id)


def _person_of(conn, actor: str) -> str | None:
    """The person behind a deploying client's actor ("client:<id>:<name>"), if it names one."""
    kind, _, rest = actor.partition(":")
    client_id = rest.partition(":")[0]
    if kind != "client" or not client_id.isdigit():
        return None
    row = client_store.client_row(conn, int(client_id))
    return client_of(row).person if row is not None else None


def _approval_reason(reason) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > LONGEST_APPROVAL_REASON:
        raise InvalidInput(
            f"'reason' must say why the version is approved, in 1 to {LONGEST_APPROVAL_REASON:,} characters"
        )
    return reason


def _refuse_no_files(files: list[SourceFile]) -> None:
    if not files:
        raise DefinitionInvalid([Problem("(none)", "no files were uploaded (use the form field 'files')")])


def _file_rows(files: list[SourceFile]) -> list[dict]:
    """The files as stored, by name (raises DefinitionInvalid for one that is not UTF-8)."""
    return sorted(
        ({"filename": f.filename, "sha256": _sha256(f.content), "content": _text(f)} for f in files),
        key=lambda row: row["filename"],
    )


def _single_top_level(parsed: ParsedDeployment) -> str:
    top_level = parsed.top_level_process_ids()
    if len(top_level) == 1:
        return top_level[0]
    raise DefinitionInvalid(
        [
            Problem(
                parsed.bpmn_files[0],
                "the deployment has several top-level processes "
                f"({', '.join(top_level)}): name the one to deploy with the 'key' field",
            )
        ]
    )


def _text(source: SourceFile) -> str:
    # Already parsed as XML by now, so this only fails for encodings other than UTF-8.
    try:
        return source.content.decode("utf-8")
    except UnicodeDecodeError:
        raise DefinitionInvalid([Problem(source.filename, "files must be encoded as UTF-8")]) from None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _deployed(row, *, created: bool, files) -> DeployedVersion:
    return DeployedVersion(
        key=row["definition_key"],
        number=row["number"],
        version_id=row["id"],
        sha256=row["sha256"],
        process_id=row["process_id"],
        deployed_by=row["deployed_by"],
        deployed_at=row["deployed_at"],
        created=created,
        files=[{"filename": f["filename"], "sha256": f["sha256"]} for f in files],
    )
