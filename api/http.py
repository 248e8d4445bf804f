"""HTTP hygiene for every response: security headers, no caching of the network's data, and
the renewed session cookie of a request that rode on a session past half its life.

- ``Content-Security-Policy``: scripts, styles, fonts, images and connections from this origin
  only, no inline script anywhere, no framing (``frame-ancestors 'none'``), forms post here only.
  The API docs pages (Swagger UI, ReDoc, served from a package) also need inline styles and
  ReDoc's blob workers; only they get those.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Opener-Policy`` and ``-Resource-Policy: same-origin``.
- ``Cache-Control: no-store`` on everything but the static files.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access.sessions import SESSION_COOKIE

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeaders:
    """Pure ASGI middleware (streams, such as server-sent events, pass through unbuffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault(
                    "Content-Security-Policy", DOCS_CSP if path in DOCS_PATHS else CSP
                )
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                _renewed_session(scope.get("state"), headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _renewed_session(state: MutableMapping[str, Any] | None, headers: MutableHeaders) -> None:
    renewed = (state or {}).get("renewed_session")
    if not renewed:
        return
    token, secure, max_age = renewed
    cookie = f"{SESSION_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=lax" + (
        "; Secure" if secure else ""
    )
    headers.append("Set-Cookie", cookie)
