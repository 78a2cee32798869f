"""OpenID Connect bearer tokens: a JWT signed by the configured issuer stands in for an API client's token.

The issuer's public keys (its JWKS) are fetched over HTTPS, from ``SIGNPOST_OIDC_JWKS_URL`` or from the
``jwks_uri`` of the issuer's discovery document, and kept. A token signed with a key we do not hold makes us
fetch them again, but not more often than ``REFETCH_INTERVAL``, so tokens with made-up key ids cannot make
us hammer the issuer. Keys older than ``KEYS_MAX_AGE`` are fetched again so a key the issuer withdrew stops
being accepted.

Only asymmetric algorithms are accepted (never ``none``, never an HMAC whose "secret" would be the issuer's
public key). PyJWT checks the signature, ``iss``, ``aud`` and that the registered claims are present; the
times (``exp``, ``nbf``, ``iat``) are checked here against ``engine.clock``, the one place that reads the
time.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

import httpx
import jwt

from engine import clock
from engine.errors import NotAuthenticated
from engine.governance.clients import PLATFORM_ROLES, ROLES, VerifiedIdentity

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "ES256")
CLOCK_SKEW = timedelta(seconds=30)  # between the issuer's clock and ours
REFETCH_INTERVAL = timedelta(seconds=60)
KEYS_MAX_AGE = timedelta(hours=1)
FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024
# Column widths of api_clients: a longer value would fail the insert instead of being refused politely.
MAX_SUBJECT_CHARS = 600
MAX_NAME_CHARS = 200
MAX_ORGANISATION_CHARS = 200
MAX_SERVICE_CHARS = 100

JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated base64url parts (the third empty for an unsigned token, which is then refused)."""
    return bool(JWT_SHAPE.match(token))


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str | None = None
    organisation_claim: str = "signpost_organisation"
    roles_claim: str = "signpost_roles"
    service_claim: str = "signpost_service"
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS

    def __post_init__(self):
        if not self.audience:
            raise ValueError("SIGNPOST_OIDC_AUDIENCE is required when SIGNPOST_OIDC_ISSUER is set")
        refused = set(self.algorithms) - ALLOWED_ALGORITHMS
        if refused or not self.algorithms:
            raise ValueError(
                f"SIGNPOST_OIDC_ALGORITHMS must be some of {', '.join(sorted(ALLOWED_ALGORITHMS))}; "
                f"got {', '.join(sorted(self.algorithms)) or 'none'}"
            )
        require_https(self.issuer, "SIGNPOST_OIDC_ISSUER")
        if self.jwks_url:
            require_https(self.jwks_url, "SIGNPOST_OIDC_JWKS_URL")


def require_https(url: str, name: str) -> None:
    """Keys fetched over plain http could be swapped on the way; loopback is allowed for development."""
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return
    if parsed.scheme == "http" and parsed.hostname and _is_loopback(parsed.hostname):
        return
    raise ValueError(f"{name} must be an https URL (plain http only on loopback), got {url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeySet:
    """The issuer's signing keys by key id, fetched when needed and at a bounded rate."""

    def __init__(self, config: OidcConfig, http: httpx.Client):
        self._config = config
        self._http = http
        self._lock = threading.Lock()
        self._jwks_url = config.jwks_url
        self._keys: dict[str, dict] | None = None  # the published JWKs by key id
        self._fetched_at: datetime | None = None
        self._attempted_at: datetime | None = None

    def key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        """The key ``kid`` to verify a signature made with ``algorithm``."""
        jwk = self._held(kid, clock.now())
        if jwk is None:
            # Only requests that need a fetch wait for one; those whose key is held do not.
            with self._lock:
                now = clock.now()
                jwk = self._held(kid, now)
                if jwk is None:
                    self._refresh(now)
                    if self._keys is None:
                        raise NotAuthenticated(
                            "the issuer's signing keys could not be fetched to verify the token; "
                            "try again shortly"
                        )
                    jwk = self._keys.get(kid)
        if jwk is None:
            raise NotAuthenticated("the token is signed with a key the issuer does not publish")
        if jwk.get("alg") not in (None, algorithm):
            raise NotAuthenticated("the token's algorithm is not the one its signing key is published for")
        try:
            return jwt.PyJWK(jwk, algorithm)
        except jwt.PyJWTError:
            raise NotAuthenticated("the token's algorithm does not fit its signing key") from None

    def _held(self, kid: str, now: datetime) -> dict | None:
        """The key ``kid`` if it is among keys fetched recently enough to trust still."""
        keys, fetched_at = self._keys, self._fetched_at
        if keys is None or fetched_at is None or now - fetched_at > KEYS_MAX_AGE:
            return None
        return keys.get(kid)

    def _refresh(self, now: datetime) -> None:
        if self._attempted_at is not None and now - self._attempted_at < REFETCH_INTERVAL:
            return
        self._attempted_at = now
        try:
            self._keys = self._fetch()
            self._fetched_at = now
        except (httpx.HTTPError, ValueError, RecursionError) as error:
            # The keys we hold (if any) stay in use until the issuer answers again.
            log.warning("could not fetch the OpenID Connect issuer's keys: %s", error)

    def _fetch(self) -> dict[str, dict]:
        if self._jwks_url is None:
            discovery_url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            discovery = fetch_json(self._http, discovery_url)
            if discovery.get("issuer") != self._config.issuer:
                raise ValueError(f"the discovery document at {discovery_url} names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError(f"the discovery document at {discovery_url} has no jwks_uri")
            require_https(jwks_uri, "the discovery document's jwks_uri")
            self._jwks_url = jwks_uri
        published = fetch_json(self._http, self._jwks_url).get("keys")
        if not isinstance(published, list):
            raise ValueError(f"{self._jwks_url} is not a JWK set")
        # Keys meant for encryption, symmetric ones, or ones without an id to find them by are not the
        # issuer's signing keys.
        keys = {
            jwk["kid"]: jwk
            for jwk in published
            if isinstance(jwk, dict)
            and isinstance(jwk.get("kid"), str)
            and jwk["kid"]
            and jwk.get("use", "sig") == "sig"
            and jwk.get("kty") in ("RSA", "EC", "OKP")
        }
        if not keys:
            raise ValueError(f"{self._jwks_url} publishes no signing key with a key id")
        return keys


def fetch_json(http: httpx.Client, url: str) -> dict:
    """The JSON object at ``url``, read to at most ``MAX_DOCUMENT_BYTES``."""
    with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
        response.raise_for_status()
        return _json_object(response, url)


def post_form(http: httpx.Client, url: str, form: dict[str, str], auth: tuple[str, str] | None) -> dict:
    """The JSON object an issuer's endpoint answers a form POST with (error answers included: an OAuth
    error is a JSON object with ``error``), read to at most ``MAX_DOCUMENT_BYTES``."""
    headers = {"Accept": "application/json"}
    with http.stream("POST", url, data=form, auth=auth, headers=headers) as response:
        if response.status_code >= 500 or (
            response.status_code >= 400 and "json" not in response.headers.get("content-type", "")
        ):
            response.raise_for_status()
        return _json_object(response, url)


def _json_object(response: httpx.Response, url: str) -> dict:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{url} answered with more than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not answer with a JSON object")
    return document


class OidcVerifier:
    """Verifies bearer JWTs from the configured issuer and maps their claims to an identity."""

    def __init__(self, config: OidcConfig, http: httpx.Client | None = None):
        self.config = config
        self._http = http or httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        self._keys = KeySet(config, self._http)

    @property
    def http(self) -> httpx.Client:
        return self._http

    def verify(self, token: str) -> VerifiedIdentity:
        claims = self.verified_claims(token)
        return self._identity(claims)

    def close(self) -> None:
        self._http.close()

    def verified_claims(self, token: str, audience: str | None = None) -> dict:
        """The claims of ``token`` once its signature, issuer, audience (``audience``, by default the API's)
        and times are checked."""
        config = self.config
        audience = audience or config.audience
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in config.algorithms:
            raise NotAuthenticated(
                f"the token must be signed with one of {', '.join(config.algorithms)} by the issuer"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise NotAuthenticated("the token's header names no signing key ('kid')")
        key = self._keys.key(kid, algorithm)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=config.issuer,
                options={
                    # PyJWT would read the system clock; the times are checked below against ours.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["iss", "aud", "sub", "exp"],
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("the token's signature does not verify with the issuer's key") from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(f"the token is not meant for this API (audience {audience})") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(f"the token was not issued by {config.issuer}") from None
        except jwt.MissingRequiredClaimError as error:
            raise NotAuthenticated(f"the token has no '{error.claim}' claim") from None
        except jwt.InvalidKeyError:
            raise NotAuthenticated("the issuer's key is too weak to accept tokens signed with it") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not a valid JWT") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict) -> None:
        now = clock.now().timestamp()
        skew = CLOCK_SKEW.total_seconds()
        times = {}
        for claim in ("exp", "nbf", "iat"):
            if claim in claims:
                value = claims[claim]
                # Python's JSON parser reads Infinity and NaN, which would compare as "never expires".
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise NotAuthenticated(f"the token's '{claim}' claim must be a number of seconds")
                times[claim] = value
        if times["exp"] <= now - skew:
            raise NotAuthenticated("the token has expired")
        if times.get("nbf", now) > now + skew:
            raise NotAuthenticated("the token is not valid yet ('nbf' is in the future)")
        if times.get("iat", now) > now + skew:
            raise NotAuthenticated("the token was issued in the future ('iat')")

    def _identity(self, claims: dict) -> VerifiedIdentity:
        config = self.config
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise NotAuthenticated("the token's 'sub' claim must name its subject")
        external_subject = f"{config.issuer} {subject}"
        if len(external_subject) > MAX_SUBJECT_CHARS:
            raise NotAuthenticated("the token's 'sub' claim is too long")

        organisation = _claim(claims, config.organisation_claim)
        if not isinstance(organisation, str) or not organisation.strip():
            raise NotAuthenticated(
                f"the token names no organisation in its '{config.organisation_claim}' claim"
            )
        if len(organisation.strip()) > MAX_ORGANISATION_CHARS:
            raise NotAuthenticated(
                f"the token's '{config.organisation_claim}' claim is longer than {MAX_ORGANISATION_CHARS}"
            )

        granted = _claim(claims, config.roles_claim)
        if granted is None:
            raise NotAuthenticated(f"the token grants no roles: it has no '{config.roles_claim}' claim")
        if isinstance(granted, str):
            granted = granted.split()
        roles = (
            frozenset(r for r in (granted if isinstance(granted, list) else []) if isinstance(r, str)) & ROLES
        )
        if not roles:
            raise NotAuthenticated(
                f"the token's '{config.roles_claim}' claim grants none of the roles "
                f"{', '.join(sorted(ROLES - PLATFORM_ROLES))}"
            )
        # A platform role acts across every organisation, so only a platform admin grants it, to a client
        # it makes (``Clients.create``); an issuer vouches for who signed in, not for that. The whole token
        # is refused rather than the role dropped: a subject who silently lost it would be refused route
        # after route (403) without being told why, and an issuer handing it out is misconfigured.
        claimed = roles & PLATFORM_ROLES
        if claimed:
            raise NotAuthenticated(
                f"the token's '{config.roles_claim}' claim grants {', '.join(sorted(claimed))}: "
                f"platform roles ({', '.join(sorted(PLATFORM_ROLES))}) are granted only to API clients made "
                "by a platform admin, never by an OpenID Connect token; take them out of the token's roles"
            )

        service = _claim(claims, config.service_claim)
        if service is not None and (
            not isinstance(service, str) or not service.strip() or len(service) > MAX_SERVICE_CHARS
        ):
            raise NotAuthenticated(
                f"the token's '{config.service_claim}' claim must be a service id of at most "
                f"{MAX_SERVICE_CHARS} characters"
            )

        names = (claims.get(c) for c in ("name", "preferred_username"))
        name = next((n for n in names if isinstance(n, str) and n.strip()), subject)
        return VerifiedIdentity(
            external_subject=external_subject,
            name=name.strip()[:MAX_NAME_CHARS],
            organisation=organisation.strip(),
            roles=roles,
            service=service.strip() if service else None,
        )


def _claim(claims: dict, name: str):
    """The claim called ``name``, or, when there is none, the one its dotted path leads to (Keycloak keeps
    roles in ``realm_access.roles``). Names are tried whole first: some issuers' claims are URLs."""
    if name in claims:
        return claims[name]
    value = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
