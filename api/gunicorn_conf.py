"""gunicorn's settings for Signpost's API processes: ``gunicorn -c python:api.gunicorn_conf api.wsgi:app``.

Threaded workers (``gthread``) keep each client's connection open between requests: the sync workers
answer ``Connection: close`` every time, so every request paid for a new TCP connection (and through a
TLS-terminating proxy, a new handshake). A request mostly waits for PostgreSQL, so a few threads per
process overlap those waits; the CPU work (SpiffWorkflow, JSON, Flask) holds the GIL, so throughput grows
with processes, not threads. Each process keeps one database connection per thread, plus one.

``SIGNPOST_API_WORKERS``: processes (default: the machine's cores).
``SIGNPOST_API_THREADS``: threads per process (default 4).
``SIGNPOST_API_KEEPALIVE``: seconds an idle client connection is kept open (default 75, longer than the
idle timeout of common load balancers, so that they close it first).
``SIGNPOST_BIND``: where to listen (default ``0.0.0.0:8000``).
"""

from __future__ import annotations

import os


def _count(name: str, default: int) -> int:
    value = int(os.environ.get(name) or default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


bind = os.environ.get("SIGNPOST_BIND") or "0.0.0.0:8000"
worker_class = "gthread"
workers = _count("SIGNPOST_API_WORKERS", os.cpu_count() or 1)
threads = _count("SIGNPOST_API_THREADS", 4)
keepalive = _count("SIGNPOST_API_KEEPALIVE", 75)
# Read by each worker's Settings.from_env(): the pool sized to the requests the worker serves at once.
os.environ.setdefault("SIGNPOST_DATABASE_POOL_SIZE", str(threads + 1))
# The path only (%(U)s), never the query string: ``?subject=<NHS number>`` must not reach the log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
