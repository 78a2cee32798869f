"""What the dry run of a deployment (``POST /api/v1/definitions/validate``) costs for the largest pathway in
processes/, against parsing the same files alone, measured in the same run.

The upload: the largest BPMN file of processes/ (by bytes) with every DMN file there, deployed under its
process id, as ``signpost deploy processes`` deploys it. Contenders, timed in rounds (one run of each per
round, in turn, so that other work on the machine weighs on all alike), medians of ``--n`` rounds after 3
untimed ones (the first start the sandbox processes that check the pathway's expressions):

  (a) XML only: every file parsed by the guard that reads uploads (``parse_untrusted_xml``: lxml, no DTD);
  (b) parse: ``ParsedDeployment`` over the files: the guard, the BPMN/DMN schema checks, Signpost's own
      checks of the elements and SpiffWorkflow's parser; no spec is built and no expression is checked;
  (c) dry run, engine: ``Definitions.validate``: everything a deployment checks (the companions, the forms
      user tasks name, the spec built for the process, every expression, script, timer and decision table
      cell checked in the sandbox, the files' encoding), nothing stored;
  (d) deployment: ``Definitions.deploy`` of the same files with a comment added to the BPMN each round (so
      that each round stores a new version: identical content would return the stored one), on SQLite;
  (e) dry run over HTTP: ``POST /api/v1/definitions/validate`` through the Flask test client (multipart
      upload, authentication, the answer's schema), as the studio calls it.

Usage: python bench/validate.py [--n N]
Runs on SQLite in a temporary directory. Prints the figures, each against (b), and as its last line
ratio=<dry run (c) / parse (b)>.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402 - the path must be set first
from engine.bpmn import ParsedDeployment, SourceFile  # noqa: E402
from engine.bpmn.xml_guard import parse_untrusted_xml  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.system import OPERATIONS, build  # noqa: E402

WARM_UP_ROUNDS = 3


def largest_pathway() -> tuple[str, list[SourceFile]]:
    """The largest BPMN of processes/ with every DMN there, and the process id to deploy."""
    processes = ROOT / "processes"
    bpmn = max(processes.glob("*.bpmn"), key=lambda path: path.stat().st_size)
    files = [SourceFile(bpmn.name, bpmn.read_bytes())]
    files += [SourceFile(p.name, p.read_bytes()) for p in sorted(processes.glob("*.dmn"))]
    return bpmn.stem, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="timed rounds (default 30)")
    args = parser.parse_args()
    key, files = largest_pathway()
    print(f"upload: {', '.join(f'{f.filename} ({len(f.content):,} bytes)' for f in files)}; key {key}")
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=f"sqlite:///{scratch}/signpost_bench_validate.db",
            require_pathway_approval=False,
            secret_keys=(new_key(),),
            audit_keys=(new_audit_key(),),
        )
        system = build(settings)
        try:
            system.migrate()
            timings = measure(system, settings, key, files, args.n)
        finally:
            system.close()
    report(timings, args.n)


def measure(system, settings, key: str, files: list[SourceFile], n: int) -> dict[str, list[float]]:
    http = create_app(system).test_client()
    token = system.clients.create(name="bench", organisation="bench", roles={"designer"}, person="bench")[1]
    headers = {"Authorization": f"Bearer {token}"}
    rounds = iter(range(10**9))

    def xml_only():
        for source in files:
            parse_untrusted_xml(source.filename, source.content, settings.max_upload_bytes)

    def parse():
        # No spec is built, so no expression is checked: no evaluator is needed.
        ParsedDeployment(files, None, settings.max_upload_bytes, OPERATIONS)

    def dry_run():
        problems = system.definitions.validate(files, key=key)
        assert problems == [], problems

    def deployment():
        marked = SourceFile(
            files[0].filename, files[0].content + f"\n<!-- round {next(rounds)} -->\n".encode()
        )
        assert system.definitions.deploy([marked, *files[1:]], "bench", key=key).created

    def over_http():
        upload = {"files": [(io.BytesIO(f.content), f.filename) for f in files], "key": key}
        answer = http.post(
            "/api/v1/definitions/validate", data=upload, headers=headers, content_type="multipart/form-data"
        )
        assert answer.status_code == 200 and answer.json["valid"], answer.get_data()[:500]

    contenders: dict[str, Callable[[], None]] = {
        "(a) XML only": xml_only,
        "(b) parse": parse,
        "(c) dry run, engine": dry_run,
        "(d) deployment (stored)": deployment,
        "(e) dry run over HTTP": over_http,
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(WARM_UP_ROUNDS + n):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            if round_number >= WARM_UP_ROUNDS:
                timings[name].append(time.perf_counter() - started)
    return timings


def report(timings: dict[str, list[float]], n: int) -> None:
    baseline = statistics.median(timings["(b) parse"])
    print(f"medians of {n} rounds (ms), and each against (b):")
    for name, values in timings.items():
        median = statistics.median(values)
        spread = f"{min(values) * 1000:.1f} to {max(values) * 1000:.1f}"
        print(f"  {name:<26} {median * 1000:8.1f} ms  (range {spread})  x{median / baseline:.2f}")
    print(f"ratio={statistics.median(timings['(c) dry run, engine']) / baseline:.3f}")


if __name__ == "__main__":
    main()
