"""Page sessions: the HttpOnly, SameSite=Lax cookie the login page sets, renewed while used.

A session lasts ``SANJIANG_SESSION_TTL_H``; a request that rides on one past half its life gets
a fresh cookie (same user, same token version, same CSRF token), so a page in use — a wall
screen — stays logged in, and an idle one logs out. The renewed cookie is set by
``api.http.SecurityHeaders`` on whatever response the request gets.
"""

from __future__ import annotations

import time

from fastapi import Request
from starlette.responses import Response

from api.access.tokens import Claims, TokenIssuer

SESSION_COOKIE = "sj_session"


class Sessions:
    def __init__(self, tokens: TokenIssuer, ttl_s: float) -> None:
        self.tokens = tokens
        self.ttl_s = ttl_s

    def issue(self, username: str, version: int, csrf: str | None = None) -> tuple[str, Claims]:
        return self.tokens.issue(username, version, "session", self.ttl_s, csrf=csrf)

    def set_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.ttl_s),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear_cookie(response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def renew_if_due(self, request: Request, username: str, version: int, claims: Claims) -> None:
        """Past half its life, a session is renewed on this request's response."""
        if time.time() < claims.issued_at + self.ttl_s / 2:
            return
        token, _ = self.issue(username, version, csrf=claims.csrf)
        request.state.renewed_session = (token, request.url.scheme == "https", int(self.ttl_s))
