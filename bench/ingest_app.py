"""The API as benchmarked: the real app plus a no-op endpoint, for ``uvicorn --factory``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from api.app import create_app


def factory() -> FastAPI:
    """The production app (settings from the environment) with ``POST /bench/noop`` added."""
    app = create_app()

    @app.post("/bench/noop", include_in_schema=False)
    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b'{"accepted":0}', status_code=202, media_type="application/json")

    return app
