"""Signed, short-lived credentials for staff: access tokens (OAuth2 bearer, for programs) and
sessions (an HttpOnly cookie, for pages), both JWTs signed with HS256 through PyJWT.

A token names the user and the token version it was issued under; it is refused once expired,
tampered with, issued for another purpose, or older than the user's current token version
(password changed, account disabled). A session also carries its CSRF token: pages send it back
in ``X-CSRF-Token`` on every state-changing request.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

ISSUER = "sanjiang"
ALGORITHM = "HS256"
TokenKind = Literal["access", "session"]


class TokenError(ValueError):
    """A token that cannot be used; the message says why (expired, bad signature, …)."""


@dataclass(frozen=True)
class Claims:
    username: str
    version: int
    kind: TokenKind
    expires_at: int
    issued_at: int
    csrf: str | None


class TokenIssuer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the token key needs at least 32 bytes")
        self._key = key

    def issue(
        self,
        username: str,
        version: int,
        kind: TokenKind,
        ttl_s: float,
        now: float | None = None,
        csrf: str | None = None,
    ) -> tuple[str, Claims]:
        """A signed token; a session gets a new CSRF token unless it renews one (``csrf``)."""
        issued = int(now if now is not None else time.time())
        claims = Claims(
            username=username,
            version=version,
            kind=kind,
            issued_at=issued,
            expires_at=issued + int(ttl_s),
            csrf=(csrf or secrets.token_urlsafe(24)) if kind == "session" else None,
        )
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": username,
            "ver": version,
            "typ": kind,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "jti": secrets.token_urlsafe(12),
        }
        if claims.csrf is not None:
            payload["csrf"] = claims.csrf
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str, kind: TokenKind, now: float | None = None) -> Claims:
        """The claims of a valid, unexpired token of this kind; TokenError otherwise."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # never "none", never another algorithm
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid ({type(exc).__name__})") from None
        if int(payload["exp"]) <= (time.time() if now is None else now):
            raise TokenError("expired")
        if payload.get("typ") != kind:
            raise TokenError(f"not a {kind} token")
        csrf = payload.get("csrf")
        if kind == "session" and not isinstance(csrf, str):
            raise TokenError("a session without its CSRF token")
        return Claims(
            username=str(payload["sub"]),
            version=int(payload.get("ver", 0)),
            kind=kind,
            expires_at=int(payload["exp"]),
            issued_at=int(payload["iat"]),
            csrf=csrf if isinstance(csrf, str) else None,
        )
