"""Schemathesis against the API's own OpenAPI document, on the real API under uvicorn (real
broker, real chDB), authenticated: whatever it generates — valid, boundary and invalid data —
is never answered with a 5xx, and every answer has a documented status, content type and
body. Bounded in examples per operation."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance
from schemathesis.core.result import Ok

from sanjiang.settings import Settings
from tests.access import bearer, device_key, staff_token
from tests.api_process import api_process

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
#: Streams (server-sent events) never end; they are tested in test_live.py and test_access_api.
NOT_FUZZED = "/v1/live/stream"
EXAMPLES = 40  #: examples per operation (the run stays within half a minute)
#: made once: building one with the CA bundle for each request took 30 ms of CPU, twice as long
#: as generating, sending and checking the request (the API is plain HTTP here, unused)
TLS = ssl.create_default_context()


@pytest.fixture(scope="module")
def running_api(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """The API in its own process, as ``sanjiang api`` runs it, and credentials for it."""
    with api_process(kafka_settings, tmp_path_factory.mktemp("schema-var")) as settings:
        credentials = {
            "analyst": staff_token(settings, "analyst", ttl_s=7200),
            "kiosk": device_key(settings, "WS-R03-K1", "WS-R03", "kiosk"),
        }
        yield f"http://127.0.0.1:{settings.api_port}", credentials


def test_the_api_answers_as_documented(running_api: tuple[str, dict[str, str]]) -> None:
    base, credentials = running_api
    schema = schemathesis.openapi.from_url(base + "/openapi.json").exclude(path=NOT_FUZZED)
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # the document is valid
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 12  # every documented operation but the stream
    failures: list[str] = []
    for operation in operations:
        kiosk = operation.path == "/v1/events" or operation.path.startswith("/v1/kiosk/")
        who = "kiosk" if kiosk else "analyst"
        try:
            conformance_test(operation, base, bearer(credentials[who]))()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried, all reported
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def conformance_test(operation: Any, base: str, headers: dict[str, str]) -> Any:
    """A Hypothesis test of one operation: generated requests, every answer checked."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def conforms(case: Any) -> None:
        case.validate_response(
            send(case.as_transport_kwargs(base_url=base, headers=headers)),
            excluded_checks=[
                # schema-valid input the API refuses on purpose (a period too long, a station
                # that does not exist, SQL that is not one SELECT) is a 4xx by design
                positive_data_acceptance,
                # sends requests of its own through requests (broken here, see send); every
                # route without and with each credential is tested in test_access_api.py
                ignored_auth,
            ],
            headers=headers,
        )

    return conforms


def send(request: Any) -> httpx2.Response:
    """Send a generated request with httpx2 (the project's client; schemathesis's own sending
    goes through requests, which the urllib3-future that grafana-client's niquests installs
    breaks). A fresh client for each (its own cookies and connection), on the one TLS
    context."""
    data = request.get("data")
    with httpx2.Client(timeout=60, cookies=request.get("cookies"), verify=TLS) as client:
        return client.request(
            request["method"],
            request["url"],
            params=request.get("params"),
            headers=request.get("headers"),
            json=request.get("json"),
            data=data if isinstance(data, dict) else None,
            content=data if isinstance(data, (bytes, str)) else None,
        )
