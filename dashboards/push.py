"""Create or update the datasources, folder and dashboards in a running Grafana (grafana-client),
idempotently: running it twice changes nothing the second time but the dashboards' versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.model import Dashboard
from dashboards.provisioning import FOLDER_TITLE, FOLDER_UID


class PushError(RuntimeError):
    """Grafana refused a step; the message says which and why."""


@dataclass
class PushReport:
    datasources: dict[str, str] = field(default_factory=dict)  #: uid -> created / updated
    folder: str = ""
    dashboards: list[str] = field(default_factory=list)


def _missing(exc: GrafanaClientError) -> bool:
    return bool(exc.status_code == 404)


def connect(url: str, token: str | None = None, timeout_s: float = 10.0) -> GrafanaApi:
    """A client for ``url`` (credentials in the URL, or a service-account token)."""
    return GrafanaApi.from_url(url, credential=token, timeout=timeout_s)


def push(
    api: GrafanaApi,
    datasources: Sequence[dict[str, Any]],
    dashboards: list[Dashboard],
    report: Callable[[str], None] = lambda _: None,
) -> PushReport:
    """Upsert the datasources (by uid), the folder (by uid) and every dashboard (by uid)."""
    result = PushReport()
    try:
        for datasource in datasources:
            uid = datasource["uid"]
            try:
                api.datasource.get_datasource_by_uid(uid)
            except GrafanaClientError as exc:
                if not _missing(exc):
                    raise
                api.datasource.create_datasource(datasource)
                result.datasources[uid] = "created"
            else:
                api.datasource.update_datasource_by_uid(uid, datasource)
                result.datasources[uid] = "updated"
            report(f"datasource {uid}: {result.datasources[uid]}")

        try:
            api.folder.get_folder(FOLDER_UID)
            result.folder = "exists"
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            result.folder = "created"
        report(f"folder {FOLDER_UID} ({FOLDER_TITLE}): {result.folder}")

        for dashboard in dashboards:
            api.dashboard.update_dashboard(
                {
                    "dashboard": {**dashboard.render(), "id": None},
                    "folderUid": FOLDER_UID,
                    "overwrite": True,
                    "message": "sanjiang dashboards push",
                }
            )
            result.dashboards.append(dashboard.uid)
            report(f"dashboard {dashboard.uid} ({dashboard.title}): pushed")
    except GrafanaException as exc:
        raise PushError(f"Grafana refused ({exc.status_code}): {exc.message}") from exc
    except OSError as exc:  # niquests' connection errors are OSErrors
        raise PushError(f"cannot reach Grafana: {exc}") from exc
    return result
