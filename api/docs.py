"""Interactive API docs at /api/docs, with Swagger UI served from this app (no CDN: many NHS networks
have no internet access)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Signpost API</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
  </script>
</body>
</html>
"""

blp = Blueprint("docs", __name__)


@blp.route("/api/docs")
@blp.route("/api/docs/")
def docs_page() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@blp.route("/api/docs/assets/<path:filename>")
def docs_asset(filename: str):
    return send_from_directory(swagger_ui_path, filename)


def register(app: Flask) -> None:
    app.register_blueprint(blp)
