"""Upload the data sources and dashboards to a running Grafana through its HTTP API.

Uses grafana-client (``pip install 'posfleet[grafana]'``). Every step is idempotent: a data
source is created (``POST /api/datasources``) or updated by its fixed uid
(``PUT /api/datasources/uid/<uid>``), the folder is created once, and dashboards are saved
with ``overwrite: true`` (``POST /api/dashboards/db``), so running it again changes nothing
but the dashboards' versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlparse

from posfleet.dashboards.build import dashboards

FOLDER_UID = "posfleet"
FOLDER_TITLE = "posfleet"


class PushError(Exception):
    """Grafana could not be reached or refused a request; the message says which and why."""


@dataclass(frozen=True)
class PushResult:
    grafana_version: str
    datasources: list[str]
    dashboards: list[str]


def _client(url: str, token: str, timeout: float) -> Any:
    try:
        from grafana_client.api import GrafanaApi
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise PushError(
            "grafana-client is not installed: pip install 'posfleet[grafana]'"
        ) from None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PushError(f"--url {url!r}: give Grafana's base URL, e.g. http://grafana:3000")
    if parsed.path and not parsed.path.endswith("/"):
        url = url + "/"  # grafana-client appends "api" to the sub-path
    return GrafanaApi.from_url(url, credential=token, timeout=timeout)


def _describe(exc: BaseException, action: str) -> PushError:
    from grafana_client.client import GrafanaException, GrafanaUnauthorizedError

    if isinstance(exc, GrafanaUnauthorizedError):
        return PushError(f"{action}: Grafana refused the token (401 Unauthorized)")
    if isinstance(exc, GrafanaException):
        status = exc.status_code
        if status == 403:
            return PushError(f"{action}: the token's role may not do this (403 Forbidden); "
                             "use an Editor or Admin service account token")
        if status == 0:
            return PushError(f"{action}: {exc.message}")
        return PushError(f"{action}: Grafana answered {status}: {exc.message}")
    return PushError(f"{action}: cannot reach Grafana: {exc}")


def _errors() -> tuple[type[BaseException], ...]:
    import niquests
    from grafana_client.client import GrafanaException

    return (GrafanaException, niquests.exceptions.RequestException, ValueError)


def _status(exc: BaseException) -> int | None:
    from grafana_client.client import GrafanaException

    return exc.status_code if isinstance(exc, GrafanaException) else None


def push(
    url: str,
    token: str,
    datasources: Sequence[dict[str, Any]] = (),
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout: float = 10.0,
    say: Callable[[str], None] = lambda _line: None,
) -> PushResult:
    """Create or update ``datasources`` and every dashboard in a folder; raises PushError."""
    api = _client(url, token, timeout)
    errors = _errors()

    def call(action: str, request: Callable[[], Any]) -> Any:
        try:
            return request()
        except errors as exc:
            raise _describe(exc, action) from None

    health = call("GET /api/health", lambda: api.client.GET("/health"))
    version = str(health.get("version", "unknown")) if isinstance(health, dict) else "unknown"
    say(f"Grafana {version} at {url}")
    pushed_sources = []
    for source in datasources:
        uid = source["uid"]
        try:
            api.datasource.get_datasource_by_uid(uid)
            exists = True
        except errors as exc:
            if _status(exc) != 404:
                raise _describe(exc, f"GET /api/datasources/uid/{uid}") from None
            exists = False
        if exists:
            call(f"PUT /api/datasources/uid/{uid}",
                 partial(api.datasource.update_datasource_by_uid, uid, source))
            say(f"updated data source {uid} ({source['url']})")
        else:
            call("POST /api/datasources", partial(api.datasource.create_datasource, source))
            say(f"created data source {uid} ({source['url']})")
        pushed_sources.append(uid)
    try:
        api.folder.get_folder(folder_uid)
    except errors as exc:
        if _status(exc) != 404:
            raise _describe(exc, f"GET /api/folders/{folder_uid}") from None
        call("POST /api/folders", lambda: api.folder.create_folder(folder_title, uid=folder_uid))
        say(f"created folder {folder_title}")
    pushed = []
    for model in dashboards():
        body = {
            "dashboard": {**model, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "posfleet dashboards push",
        }
        answer = call(f"POST /api/dashboards/db ({model['uid']})",
                      partial(api.dashboard.update_dashboard, body))
        where = answer.get("url", "") if isinstance(answer, dict) else ""
        say(f"saved dashboard {model['uid']} {where}".rstrip())
        pushed.append(model["uid"])
    return PushResult(version, pushed_sources, pushed)
