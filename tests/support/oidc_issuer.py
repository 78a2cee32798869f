"""A real, local OpenID Connect issuer: an HTTP server on 127.0.0.1 publishing a discovery document and a JWKS
of keys made with ``cryptography``, which signs tokens with PyJWT."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import START
from tests.support.personas import GP_PRACTICE

AUDIENCE = "signpost-api"


class Issuer:
    """An OpenID Connect issuer: ``/.well-known/openid-configuration`` and ``/jwks`` over real HTTP, and the
    private keys behind the public ones it publishes."""

    def __init__(self):
        self.private_keys: dict[str, object] = {}
        self.published: list[str] = []
        self.requests: list[str] = []
        self.discovery_issuer: str | None = None  # what the discovery document claims, when not the truth
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

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.discovery_issuer or issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
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

            def log_message(self, *args):
                pass

        return Handler
