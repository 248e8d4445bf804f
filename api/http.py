"""HTTP hygiene for every response: security headers, no caching of the network's data, and
the renewed session cookie of a request that rode on a session past half its life.

- ``Content-Security-Policy``: scripts, styles, fonts, images and connections from this origin
  only, no inline script anywhere, no framing (``frame-ancestors 'none'``), forms post here only.
  The API docs pages (Swagger UI, ReDoc, served from a package) also need inline styles and
  ReDoc's blob workers; only they get those.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Opener-Policy`` and ``-Resource-Policy: same-origin``.
- ``Cache-Control: no-store`` on everything but the static files.

And ``BodyLimit``: no request body past its route's limit.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
from fastapi import status
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access.sessions import SESSION_COOKIE
from api.errors import api_error

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


class BodyLimit:
    """Refuse (413) a request body past its route's limit, counted as it arrives (chunked
    bodies too) — FastAPI reads a body before it asks for credentials, so without this anyone
    could make the API hold any amount of memory."""

    def __init__(self, app: ASGIApp, default: int, per_path: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = per_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.default)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(send, limit)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise api_error(
                        status.HTTP_413_CONTENT_TOO_LARGE,
                        "payload_too_large",
                        f"the body is over {limit} bytes",
                    )
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"error": "payload_too_large", "detail": f"the body is over {limit} bytes"})
    await send(
        {
            "type": "http.response.start",
            "status": status.HTTP_413_CONTENT_TOO_LARGE,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in HEADERS.items()),
                (b"content-security-policy", CSP.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
