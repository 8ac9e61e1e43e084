"""A recorded-contract fake of the parts of Grafana's HTTP API that ``dashboards push`` uses.

Grafana cannot run here, so this server answers as Grafana 10's documented API does
(grafana.com/docs/grafana/latest/developers/http_api/: data_source, folder, dashboard, other):

- ``GET /api/health`` (no auth): ``{"commit", "database": "ok", "version"}``;
- every other route needs ``Authorization: Bearer <token>``; a wrong one gets
  ``401 {"message": "invalid API key"}``;
- ``GET /api/datasources/uid/:uid``: the data source, or ``404 {"message": "Data source not
  found"}``; ``POST /api/datasources``: ``{"datasource", "id", "message": "Datasource added",
  "name"}`` or ``409`` when the name exists; ``PUT /api/datasources/uid/:uid``:
  ``{"datasource", "id", "message": "Datasource updated", "name"}``;
- ``GET /api/folders/:uid``: the folder or ``404 {"message": "folder not found"}``;
  ``POST /api/folders`` ``{"uid", "title"}``: the folder with ``id``, ``url``, ``version``;
- ``POST /api/dashboards/db`` ``{"dashboard", "folderUid", "overwrite", "message"}``:
  ``{"id", "uid", "url", "status": "success", "version", "slug"}``; ``412`` when a dashboard
  with that uid exists and ``overwrite`` is false; ``400`` without a title.

Every request is recorded (method, path, body) for the tests to inspect.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fixtures.net import LOOPBACK

VERSION = "10.4.2"


@dataclass
class FakeGrafana:
    token: str
    url: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any
               ) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if method == "GET" and path == "/api/health":
            return 200, {"commit": "0123abc", "database": "ok", "version": VERSION}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "invalid API key"}
        if match := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            return self._datasource(method, match.group(1), body)
        if method == "POST" and path == "/api/datasources":
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            stored = {**body, "id": len(self.datasources) + 1}
            self.datasources[body["uid"]] = stored
            return 200, {"datasource": stored, "id": stored["id"],
                         "message": "Datasource added", "name": body["name"]}
        if match := re.fullmatch(r"/api/folders/([\w-]+)", path):
            folder = self.folders.get(match.group(1))
            return (200, folder) if folder else (404, {"message": "folder not found"})
        if method == "POST" and path == "/api/folders":
            folder = {"id": len(self.folders) + 1, "uid": body["uid"], "title": body["title"],
                      "url": f"/dashboards/f/{body['uid']}/", "version": 1}
            self.folders[body["uid"]] = folder
            return 200, folder
        if method == "POST" and path == "/api/dashboards/db":
            return self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _datasource(self, method: str, uid: str, body: Any) -> tuple[int, Any]:
        current = self.datasources.get(uid)
        if current is None:
            return 404, {"message": "Data source not found"}
        if method == "GET":
            return 200, current
        if method == "PUT":
            stored = {**body, "id": current["id"]}
            self.datasources[uid] = stored
            return 200, {"datasource": stored, "id": stored["id"],
                         "message": "Datasource updated", "name": body["name"]}
        return 405, {"message": "Method not allowed"}

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        dashboard = body.get("dashboard") or {}
        if not dashboard.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        uid = dashboard["uid"]
        previous = self.dashboards.get(uid)
        if previous is not None and not body.get("overwrite"):
            return 412, {"message": "A dashboard with the same uid already exists",
                         "status": "name-exists"}
        version = previous["version"] + 1 if previous else 1
        self.dashboards[uid] = {"dashboard": dashboard, "folderUid": body.get("folderUid"),
                                "version": version}
        slug = re.sub(r"[^a-z0-9]+", "-", dashboard["title"].lower()).strip("-")
        return 200, {"id": list(self.dashboards).index(uid) + 1, "uid": uid,
                     "url": f"/d/{uid}/{slug}", "status": "success", "version": version,
                     "slug": slug}


@contextmanager
def fake_grafana(token: str) -> Iterator[FakeGrafana]:
    fake = FakeGrafana(token)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.handle(self.command, self.path.split("?")[0], headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    fake.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
