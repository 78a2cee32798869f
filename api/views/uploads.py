"""The multipart upload of a pathway's files, as POST /api/v1/definitions takes them and as the views that
check or run a draft take them too: one request shape, documented once."""

from __future__ import annotations

from flask import request

from engine.bpmn import SourceFile

FILES_DESCRIPTION = (
    "one or more .bpmn / .dmn files deployed together, with any task forms (<form id>.form.json) and "
    "scenario files (*.scenarios.yaml)"
)
KEY_DESCRIPTION = "process id to deploy when the files hold several top-level processes"


def upload_body(files_description: str = FILES_DESCRIPTION, *, with_key: bool = True) -> dict:
    """The OpenAPI request body of an upload: the ``files`` field, and the ``key`` field when it is read."""
    properties = {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": files_description,
        }
    }
    if with_key:
        properties["key"] = {"type": "string", "description": KEY_DESCRIPTION}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": properties, "required": ["files"]}
            }
        },
    }


def uploaded_files(unnamed: str = "upload.bpmn") -> list[SourceFile]:
    """The request's ``files``, each named as uploaded (``unnamed`` when it came without a name)."""
    return [SourceFile(f.filename or unnamed, f.read()) for f in request.files.getlist("files")]
