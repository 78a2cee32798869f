"""Key files a development database keeps beside itself (``<database file>.secret-keys``, ``.audit-keys``)
when no key is configured: created whole by the first process that needs one, readable by its owner only."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def read_or_create_key_file(
    path: Path, new_key: Callable[[], str], *, holds: str, setting: str, refuse: type[Exception]
) -> str:
    """The text of the key file at ``path``, written with one ``new_key()`` first if there is none.

    ``holds`` says what the keys protect ("the keys that sign the audit trail"), for the messages; a file
    other users may read raises ``refuse``."""
    if not path.exists():
        _create(path, new_key, holds=holds, setting=setting)
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise refuse(f"{path} holds {holds} but other users may read it: `chmod 600 {path}`")
    return path.read_text()


def _create(path: Path, new_key: Callable[[], str], *, holds: str, setting: str) -> None:
    """Write a new key file whole, or leave alone the one another process wrote at the same moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # created 0600
    try:
        with os.fdopen(handle, "w") as file:
            file.write(new_key() + "\n")
        try:
            os.link(draft, path)  # fails if the file exists: the first writer's key wins
        except FileExistsError:
            return
    finally:
        os.unlink(draft)
    log.warning(
        "%s is not set: %s were generated in %s; keep that file with the database, and set %s for "
        "anything but development",
        setting,
        holds,
        path,
        setting,
    )
