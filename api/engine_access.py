"""How views reach the engine built for this app."""

from __future__ import annotations

from flask import current_app

from engine.system import Signpost


def signpost() -> Signpost:
    return current_app.extensions["signpost"]
