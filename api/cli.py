"""The ``signpost`` command: serve, deploy, test, simulate, clients, audit, secrets, db."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler

from api.scenario_cli import add_test_command
from api.simulate_cli import add_simulate_command
from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, SignpostError
from engine.governance.audit_keys import new_audit_key
from engine.governance.clients import CLI_ACTOR
from engine.notifications.secrets_at_rest import new_key
from engine.pathways.blueprints import VARIANTS_SUFFIX
from engine.pathways.forms import FORM_SUFFIX
from engine.pathways.scenario_files import SCENARIO_SUFFIXES
from engine.settings import Settings
from engine.system import Signpost, build

DEFINITION_SUFFIXES = (".bpmn", ".dmn")
COMPANION_SUFFIXES = (*SCENARIO_SUFFIXES, VARIANTS_SUFFIX, FORM_SUFFIX)
# A folder given to `deploy` may hold the service directory, loaded before the pathways that route to it.
DIRECTORY_FILE = "services.toml"
OLA_FILE = "olas.toml"
DEV_TOKEN_FILE = Path("var") / "dev-admin-token"


class PathOnlyRequestLog(WSGIRequestHandler):
    """Access log lines without query strings: a lookup such as ``?subject=<NHS number>`` must not be
    written to the log."""

    def log_request(self, code="-", size="-") -> None:
        method, _, rest = self.requestline.partition(" ")
        target, _, version = rest.rpartition(" ")
        path = urlsplit(target).path
        self.log("info", '"%s %s %s" %s %s', method, path, version, code, size)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "without_engine", False):
        return args.command(None, args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The ticker runs every second: its per-run lines would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # httpx logs each request's full URL at INFO, and a webhook URL may carry its receiver's credentials.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        signpost = build(Settings.from_env())
    except SignpostError as error:  # a configuration the engine cannot start with
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    try:
        return args.command(signpost, args)
    except DefinitionInvalid as invalid:
        print("deployment refused:", file=sys.stderr)
        for problem in invalid.problems:
            print(f"  {problem.describe()}", file=sys.stderr)
        return 1
    except SignpostError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    finally:
        signpost.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signpost", description="Signpost referral-routing engine")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="serve the API, the timer ticker and a simulation worker in this process"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(command=_serve)

    worker = commands.add_parser(
        "worker",
        help="fire due timers and raise OLA warnings and breaches (no HTTP); run several on PostgreSQL",
    )
    worker.set_defaults(command=_worker)

    deploy = commands.add_parser(
        "deploy", help="deploy BPMN/DMN files (directories are searched) and any services.toml directory"
    )
    deploy.add_argument("paths", nargs="+", type=Path)
    deploy.add_argument("--by", default=os.environ.get("USER", "cli"), help="who is deploying (recorded)")
    deploy.set_defaults(command=_deploy)

    add_test_command(commands)
    add_simulate_command(commands)

    clients = commands.add_parser("clients", help="manage API clients").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = clients.add_parser("create", help="create a client and print its token (shown only once)")
    create.add_argument("--org", required=True, help="the organisation the client acts for")
    create.add_argument("--role", action="append", required=True, help="a role; repeat for several")
    create.add_argument("--name", help="a name for the client (defaults to ORG ROLES)")
    create.add_argument("--valid-days", type=int, help="the token expires after this many days")
    create.add_argument("--service", help="for an operator: the point of access (service id) it works at")
    create.add_argument(
        "--person",
        help="the person the client acts for (staff number, email); required for admin, designer, auditor, "
        "clinical-approver and the platform roles",
    )
    create.set_defaults(command=_create_client)
    revoke = clients.add_parser("revoke", help="revoke a client's token at once")
    revoke.add_argument("client_id", type=int)
    revoke.set_defaults(command=_revoke_client)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        required=True, metavar="ACTION"
    )
    verify = audit.add_parser(
        "verify",
        help="check with the keys (SIGNPOST_AUDIT_KEYS) that no record was changed, removed or inserted",
    )
    verify.add_argument(
        "--head",
        type=Path,
        action="append",
        default=[],
        help="a file of heads `signpost audit head` printed, kept outside the database: each must still be "
        "in the chain (finds the newest records removed); repeat for several files",
    )
    verify.set_defaults(command=_audit_verify)
    audit.add_parser(
        "head", help="print the chain's newest records, signed: a line to keep outside the database"
    ).set_defaults(command=_audit_head)
    audit.add_parser("new-key", help="print a new id:secret for SIGNPOST_AUDIT_KEYS").set_defaults(
        command=_new_audit_key, without_engine=True
    )

    keys = commands.add_parser(
        "secrets", help="the keys (SIGNPOST_SECRET_KEYS) that encrypt webhook secrets in the database"
    ).add_subparsers(required=True, metavar="ACTION")
    keys.add_parser(
        "rotate",
        help="encrypt every stored secret again with the first key (then the other keys may be dropped)",
    ).set_defaults(command=_secrets_rotate)
    keys.add_parser("new-key", help="print a new key for SIGNPOST_SECRET_KEYS").set_defaults(
        command=_new_key, without_engine=True
    )

    db = commands.add_parser("db", help="database schema").add_subparsers(required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply migrations").set_defaults(command=_db_upgrade)
    return parser


def _serve(signpost: Signpost, args) -> int:
    from api import create_app  # Flask is only needed by this command
    from engine.pathways.timers import Ticker
    from engine.simulation.worker import SimulationWorker

    signpost.migrate()
    token = signpost.settings.admin_token or _development_token(signpost)
    signpost.clients.ensure(
        token=token, name="admin", organisation="signpost", roles={"admin", "platform-admin"}
    )
    ticker = Ticker(signpost.tick, signpost.settings.tick_seconds)
    ticker.start()
    app = create_app(signpost)
    # One process serves everything here: the simulations queued through its API are run by it too.
    simulations = SimulationWorker(signpost)
    app.extensions["simulations"].queued_hooks.append(simulations.wake)
    simulations.start()
    base = f"http://{args.host}:{args.port}"
    # Never the token itself: a terminal's scroll-back, a process supervisor's log or CI output would keep it.
    where = (
        "the one in SIGNPOST_ADMIN_TOKEN"
        if signpost.settings.admin_token
        else f"in {DEV_TOKEN_FILE.resolve()} (development)"
    )
    print(
        f"Signpost is serving on {base}\n  API docs:    {base}/api/docs\n"
        f"  OpenAPI:     {base}/api/v1/openapi.json\n"
        f"  admin token: {where}",
        flush=True,
    )
    try:
        app.run(
            host=args.host,
            port=args.port,
            threaded=True,
            use_reloader=False,
            request_handler=PathOnlyRequestLog,
        )
    finally:
        simulations.stop()
        ticker.stop()
    return 0


def _worker(signpost: Signpost, _args) -> int:
    from engine.pathways.timers import Ticker

    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    ticker = Ticker(signpost.tick, signpost.settings.tick_seconds)
    ticker.start()
    print(
        f"Signpost worker {os.getpid()} is attending to timers and OLA clocks every "
        f"{signpost.settings.tick_seconds:g} s",
        flush=True,
    )
    stopping.wait()
    # The tick in progress finishes its transaction; anything not committed is simply done again later.
    ticker.stop()
    return 0


def _development_token(signpost: Signpost) -> str:
    """A local admin token kept in var/ so that it survives restarts of a development server."""
    if DEV_TOKEN_FILE.exists():
        return DEV_TOKEN_FILE.read_text().strip()
    DEV_TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    token = "sp_dev_" + secrets.token_urlsafe(24)
    DEV_TOKEN_FILE.write_text(token + "\n")
    DEV_TOKEN_FILE.chmod(0o600)
    return token


def _deploy(signpost: Signpost, args) -> int:
    signpost.migrate()
    directories = [path / DIRECTORY_FILE for path in args.paths if (path / DIRECTORY_FILE).is_file()]
    for directory in directories:
        loaded = signpost.services.load_directory(directory.read_text(), str(directory), f"cli:{args.by}")
        print(f"service directory {directory}: {len(loaded)} services loaded")
    for terms in [path / OLA_FILE for path in args.paths if (path / OLA_FILE).is_file()]:
        olas = signpost.olas.load_terms(terms.read_text(), str(terms), f"cli:{args.by}")
        print(f"OLA terms {terms}: {len(olas)} OLAs loaded")
    files = [SourceFile(str(path), path.read_bytes()) for path in _definition_files(args.paths)]
    if not files:
        if directories:
            return 0
        print("no .bpmn or .dmn files found in " + " ".join(map(str, args.paths)), file=sys.stderr)
        return 1
    for version in signpost.definitions.deploy_each_top_level(files, f"cli:{args.by}"):
        state = "deployed" if version.created else "unchanged"
        print(
            f"{version.key} version {version.number} {state} "
            f"({len(version.files)} files, {version.sha256[:12]})"
        )
    return 0


def _definition_files(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            # Scenario, variants and task form files beside the diagrams are deployed with them (stored with
            # each one).
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in DEFINITION_SUFFIXES or p.name.endswith(COMPANION_SUFFIXES)
                )
            )
        elif path.exists():
            found.append(path)
        else:
            raise SignpostError(f"{path} does not exist")
    return found


def _create_client(signpost: Signpost, args) -> int:
    signpost.migrate()
    name = args.name or f"{args.org} {'+'.join(args.role)}"
    valid_for = timedelta(days=args.valid_days) if args.valid_days else None
    client, token = signpost.clients.create(
        name=name,
        organisation=args.org,
        roles=set(args.role),
        valid_for=valid_for,
        service=args.service,
        person=args.person,
        by=CLI_ACTOR,
    )
    print(
        f"client {client.id} ({client.name}, {client.organisation}, roles {', '.join(sorted(client.roles))})"
    )
    print(f"token: {token}")
    print("The token is shown only now; store it safely.", file=sys.stderr)
    return 0


def _audit_verify(signpost: Signpost, args) -> int:
    kept = "\n".join(path.read_text() for path in args.head)
    verdict = signpost.audit.verify(kept)
    if not verdict.intact:
        print(f"audit trail BROKEN after {verdict.records} good records: {verdict.problem}", file=sys.stderr)
        return 1
    print(f"audit trail intact: {verdict.records} records")
    if args.head:
        print("every kept head is in the chain")
    if verdict.unkeyed:
        print(
            f"{verdict.unkeyed} of them were written before the chain was keyed and are checked without a "
            "key: only the keyed record after them, and a head kept outside the database, vouch for them"
        )
    return 0


def _audit_head(signpost: Signpost, _args) -> int:
    print(signpost.audit.head())
    return 0


def _new_audit_key(_signpost: None, _args) -> int:
    print(new_audit_key())
    return 0


def _secrets_rotate(signpost: Signpost, _args) -> int:
    count = signpost.notifications.reencrypt_secrets()
    print(f"{count} stored secrets are now encrypted with the first key; the keys after it may be removed")
    return 0


def _new_key(_signpost: None, _args) -> int:
    print(new_key())
    return 0


def _revoke_client(signpost: Signpost, args) -> int:
    signpost.migrate()
    revoked = signpost.clients.revoke(args.client_id, by=CLI_ACTOR)
    print(f"client {revoked['id']} ({revoked['name']}) revoked at {revoked['revoked_at']}")
    return 0


def _db_upgrade(signpost: Signpost, _args) -> int:
    signpost.migrate()
    print("database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
