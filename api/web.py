"""The web application (the designer's studio; the operations console later), served from the API's origin.

``web/build.mjs`` builds it into ``web/dist/`` (``make run`` and ``make test`` do); these routes only serve
those files, under a strict Content-Security-Policy: scripts and styles from this origin only, no inline
script, no other site contacted, no framing. The application holds no data of its own: it is a client of
the public API (``/api/v1``), signed in with the session cookie of ``api.web_session``.

Every page path of the application (``/studio/…``) answers the same ``index.html``; the script shows the
page the path names. Unbuilt, they answer 503 saying how to build.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, redirect, send_from_directory

from api.errors import problem

DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
ASSETS = DIST / "assets"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Stylesheets from this origin only; the diagram libraries position and size elements with style
        # attributes (they never load styles from anywhere), which style-src-attr allows.
        "style-src 'self'",
        "style-src-elem 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
NOT_BUILT = "the web application has not been built: run `make run`, or `npm ci && npm run build` in web/"

blp = Blueprint("web", __name__)


@blp.route("/studio")
def studio_root() -> Response:
    return redirect("/studio/", code=308)


@blp.route("/console")
def console_root() -> Response:
    return redirect("/console/", code=308)


@blp.route("/studio/")
@blp.route("/studio/<path:page>")
@blp.route("/console/")
@blp.route("/console/<path:page>")
def studio(page: str = "") -> Response:
    """The application's page: the same document for every path, whose script shows the page named."""
    if not (DIST / "index.html").is_file():
        return problem(503, "Service Unavailable", NOT_BUILT)
    response = send_from_directory(DIST, "index.html", mimetype="text/html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/assets/<path:filename>")
def asset(filename: str) -> Response:
    if not ASSETS.is_dir():
        return problem(503, "Service Unavailable", NOT_BUILT)
    # Revalidated on every load (ETag): entry files keep their names from one build to the next.
    response = send_from_directory(ASSETS, filename, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.after_request
def secure(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response


def register(app: Flask) -> None:
    app.register_blueprint(blp)
