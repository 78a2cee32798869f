"""A real, local OpenID Connect issuer: an HTTP server on 127.0.0.1 publishing a discovery document and a JWKS
of keys made with ``cryptography``, which signs tokens with PyJWT. It also signs people in with the
authorization code flow and PKCE: its authorization endpoint signs in ``person`` at once (there is no one
to type a password) and sends the browser back with a code, which its token endpoint exchanges — once, for
the client and redirect URI it was issued to, and only with the verifier of the code challenge."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import START
from tests.support.personas import GP_PRACTICE

AUDIENCE = "signpost-api"
CLIENT_ID = "signpost-studio"


class Issuer:
    """An OpenID Connect issuer: ``/.well-known/openid-configuration`` and ``/jwks`` over real HTTP, and the
    private keys behind the public ones it publishes."""

    def __init__(self):
        self.private_keys: dict[str, object] = {}
        self.published: list[str] = []
        self.requests: list[str] = []
        self.discovery_issuer: str | None = None  # what the discovery document claims, when not the truth
        self.client_secret: str | None = None  # set: Signpost must authenticate as a confidential client
        self.person: dict = {}  # the claims of whoever signs in at the authorization endpoint
        self.refuse_sign_in: str | None = None  # an OAuth error the authorization endpoint answers with
        self.id_token_claims: dict = {}  # overrides of the ID token's claims (a forged nonce, …)
        self.access_token_claims: dict = {}  # overrides of the access token's claims (another audience, …)
        self.codes: dict[str, dict] = {}  # authorization codes not yet exchanged
        self.exchanges: list[dict] = []  # every form posted to the token endpoint
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def fetches(self, path: str) -> int:
        return self.requests.count(path)

    def new_key(self, kid: str, *, kind: str = "RSA", publish: bool = True):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA" else None
        key = key or ec.generate_private_key(ec.SECP256R1())
        self.private_keys[kid] = key
        if publish:
            self.published.append(kid)
        return key

    def jwks(self) -> dict:
        keys = []
        for kid in self.published:
            key = self.private_keys[kid]
            algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
            algorithm = algorithm or jwt.algorithms.ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig"})
        # Issuers publish encryption keys beside signing keys; they are not to be verified with.
        return {"keys": [*keys, {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"}]}

    def claims(self, **overrides) -> dict:
        now = int(START.timestamp())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice",
            "name": "Alice Smith",
            "iat": now,
            "exp": now + 3600,
            "signpost_organisation": GP_PRACTICE,
            "signpost_roles": ["referrer"],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, kid: str = "key-1", *, signing_key=None, algorithm: str | None = None, **claims) -> str:
        key = signing_key or self.private_keys[kid]
        algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(self.claims(**claims), key, algorithm=algorithm, headers={"kid": kid})

    def _authorize(self, query: dict[str, str]) -> str:
        """Where the authorization endpoint sends the browser: back to the client, with a code."""
        redirect_uri = query["redirect_uri"]
        answer = {"state": query.get("state", "")}
        if self.refuse_sign_in:
            answer["error"] = self.refuse_sign_in
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            answer["error"] = "invalid_request"
            answer["error_description"] = "PKCE with S256 is required"
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**query}
            answer["code"] = code
        return f"{redirect_uri}?{urlencode(answer)}"

    def _exchange(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        self.exchanges.append(form)
        client_id = form.get("client_id")
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = b64decode(authorization[6:]).decode().partition(":")
            if secret != self.client_secret:
                return 401, {"error": "invalid_client"}
        elif self.client_secret is not None:
            return 401, {"error": "invalid_client"}
        granted = self.codes.pop(form.get("code", ""), None)
        if (
            form.get("grant_type") != "authorization_code"
            or granted is None
            or granted["client_id"] != client_id
            or granted["redirect_uri"] != form.get("redirect_uri")
        ):
            return 400, {"error": "invalid_grant"}
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge.rstrip(b"=").decode() != granted["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "the code verifier does not match"}
        now = int(time.time())
        person = {"iat": now, "exp": now + 3600, **self.person}
        access_token = self.token(**{**person, **self.access_token_claims})
        id_token = self.token(
            **{**person, "aud": client_id, "nonce": granted.get("nonce"), **self.id_token_claims}
        )
        return 200, {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 3600,
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.requests.append(self.path)
                path, _, query = self.path.partition("?")
                if path == "/authorize":
                    self.send_response(302)
                    self.send_header(
                        "Location", issuer._authorize({k: v[0] for k, v in parse_qs(query).items()})
                    )
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": issuer.discovery_issuer or issuer.url,
                        "jwks_uri": f"{issuer.url}/jwks",
                        "authorization_endpoint": f"{issuer.url}/authorize",
                        "token_endpoint": f"{issuer.url}/token",
                    }
                elif self.path == "/jwks":
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                issuer.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/token":
                    self.send_error(404)
                    return
                status, body = issuer._exchange(form, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
