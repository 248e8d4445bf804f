"""One error shape for every refused request: ``{"error": code, "detail": text}``."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
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


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Malformed or out-of-range parameters: 422 with the one error body, naming each field
    (never the value sent, which may be long or private)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:10]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        {"error": "invalid_request", "detail": "; ".join(problems)},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
