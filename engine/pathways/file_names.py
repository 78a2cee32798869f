"""The names of a deployment's files, checked before any file is read: each once, and each storable."""

from __future__ import annotations

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, Problem
from engine.store import definitions as definition_store


def refuse_duplicate_names(files: list[SourceFile]) -> None:
    names = [f.filename for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionInvalid(
            [Problem(n, "the same file name appears twice in one deployment") for n in duplicates]
        )


def refuse_unstorable_names(files: list[SourceFile]) -> None:
    # PostgreSQL enforces the column's length and refuses NUL characters in text; SQLite would store both.
    longest = definition_store.LONGEST_FILENAME
    problems = [
        Problem(
            f.filename[:longest].replace("\x00", "\\x00"),
            f"a file name has at most {longest} characters and no NUL characters",
        )
        for f in files
        if len(f.filename) > longest or "\x00" in f.filename
    ]
    if problems:
        raise DefinitionInvalid(problems)
