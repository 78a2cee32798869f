"""The WSGI application for gunicorn: ``gunicorn -c python:api.gunicorn_conf api.wsgi:app``.

API processes serve requests only; timers, OLA warnings and breaches are attended to by separate
``signpost worker`` processes sharing the same PostgreSQL database."""

from __future__ import annotations

from api import create_app
from engine.settings import Settings
from engine.system import build

signpost = build(Settings.from_env())
signpost.ensure_admin_client()
app = create_app(signpost)
