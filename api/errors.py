"""One error shape for every refused request: ``{"error": code, "detail": text}``."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse


def api_error(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> HTTPException:
    """An HTTPException carrying a machine code and a human explanation."""
    return HTTPException(status_code, detail={"error": code, "detail": detail}, headers=headers)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render ``api_error`` details flat; other HTTP errors as ``{"error": "http_<code>"}``."""
    assert isinstance(exc, HTTPException)
    body: object = exc.detail
    if not (isinstance(body, dict) and "error" in body):
        body = {"error": f"http_{exc.status_code}", "detail": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
