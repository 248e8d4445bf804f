"""``GET /metrics``: this API process's Prometheus metrics (``sanjiang.metrics``).

Operational counts, but of the network's activity (events sent and refused, commands, open
screens), on the port the API serves its users from: it takes a credential like every other
route that tells about the network — Prometheus's scrape token (``SANJIANG_METRICS_TOKEN``,
as a bearer token), or a staff token or key that sees the whole network.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.access.deps import (
    authenticate,
    device_key,
    require,
    require_network,
    staff_session,
    staff_token,
)
from api.access.roles import Grant
from api.deps import ServicesDep
from api.params import PROTECTED
from api.services import Services

router = APIRouter(tags=["operations"])


def is_scrape_token(services: Services, bearer: str | None) -> bool:
    token = services.settings.metrics_token
    if token is None or not bearer:
        return False
    return hmac.compare_digest(bearer.encode(), token.get_secret_value().encode())


@router.get(
    "/metrics",
    summary="This API process's metrics (Prometheus text format)",
    description=(
        "Ingest answers by status and reason, open live streams, and the warehouse sink's "
        "batches and backlog when this process hosts it (embedded chDB); the README's "
        "operations section says what each metric means. Takes the scrape token "
        "(`SANJIANG_METRICS_TOKEN`) as a bearer token, or a credential that sees the whole "
        "network."
    ),
    response_class=Response,
    responses={
        401: PROTECTED[401],
        403: PROTECTED[403],
        200: {
            "description": "The metrics, in Prometheus's text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def metrics(
    request: Request,
    services: ServicesDep,
    token: Annotated[str | None, Security(staff_token)] = None,
    key: Annotated[HTTPAuthorizationCredentials | None, Security(device_key)] = None,
    session: Annotated[str | None, Security(staff_session)] = None,
) -> Response:
    if not is_scrape_token(services, key.credentials if key else None):
        caller = await authenticate(request, services, token=token, key=key, session=session)
        require_network(await require(Grant.READ)(caller))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_PLAIN_0_0_4)
