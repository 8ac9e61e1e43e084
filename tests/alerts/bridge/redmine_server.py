"""A real Redmine (Debian's ``redmine`` 5.0 package, SQLite, Thin) on a free loopback port.

How it runs: Debian's Redmine is multi-tenant; ``REDMINE_INSTANCE=<name>`` makes it use
``/var/lib/redmine/<name>/`` (config/database.yml, config/secret_key.txt, log/, tmp/,
files/). The fixture links such a name to an instance folder in a temp directory, points
database.yml at a copy of a prepared SQLite database, and starts ``bin/rails server``
(Redmine's Gemfile loads Thin when Debian's ``thin`` package is installed).

The prepared database (``rake db:migrate``, ``redmine:load_default_data`` with
REDMINE_LANG=en, REST API enabled, admin's API key, a project ``posfleet`` and a string
custom field ``posfleet key``) takes ~15 s to build; it is cached in the system temp
directory per Redmine version and reused by later sessions, so a session pays ~4 s.

Needs root (or write access to /var/lib/redmine) and the packages redmine, redmine-sqlite
and thin (scripts/setup installs them). Fails, never skips, when Redmine cannot start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.net import LOOPBACK, free_port, http_json, http_ok
from tests.fixtures.process import ManagedProcess

REDMINE_ROOT = Path("/usr/share/redmine")
INSTANCES = REDMINE_ROOT / "instances"
SEED = """
Setting.rest_api_enabled = '1'
admin = User.find_by_login('admin')
admin.must_change_passwd = false
admin.save!
project = Project.find_by_identifier('posfleet') ||
  Project.create!(name: 'posfleet', identifier: 'posfleet', is_public: false)
project.trackers = Tracker.all
project.enabled_module_names = ['issue_tracking']
project.save!
field = IssueCustomField.find_by_name('posfleet key') ||
  IssueCustomField.create!(name: 'posfleet key', field_format: 'string', is_filter: true,
                           searchable: true, is_for_all: true, trackers: Tracker.all)
File.write(ENV.fetch('POSFLEET_SEED_OUT'), {
  api_key: admin.api_key, project: project.identifier, custom_field_id: field.id
}.to_json)
"""


@dataclass(frozen=True)
class RedmineServer:
    """A running Redmine and what the tests need to use its REST API."""

    url: str
    api_key: str
    project: str
    custom_field_id: int
    log_path: Path

    def issues(self, **params: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in {"status_id": "*", **params}.items())
        answer = http_json(
            "GET", f"{self.url}/issues.json?{query}&key={self.api_key}&limit=100"
        )
        issues: list[dict[str, Any]] = answer["issues"]
        return issues

    def issue(self, issue_id: str) -> dict[str, Any]:
        answer = http_json(
            "GET", f"{self.url}/issues/{issue_id}.json?include=journals&key={self.api_key}"
        )
        issue: dict[str, Any] = answer["issue"]
        return issue


def _version() -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "redmine"], capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def _write_instance(folder: Path, database: Path) -> None:
    for sub in ("config", "files", "log", "tmp/pids", "public/plugin_assets"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "config" / "database.yml").write_text(
        "production:\n  adapter: sqlite3\n"
        f"  database: {database}\n  encoding: utf8\n  timeout: 5000\n"
    )
    (folder / "config" / "secret_key.txt").write_text(secrets.token_hex(32) + "\n")


@dataclass
class _Instance:
    """A Redmine tenant name linked to a folder of ours."""

    name: str
    folder: Path

    def __enter__(self) -> _Instance:
        link = INSTANCES / self.name
        try:
            link.symlink_to(self.folder)
        except OSError as err:
            pytest.fail(
                f"cannot link the Redmine instance {link} -> {self.folder}: {err} "
                "(the Redmine fixture needs write access to /var/lib/redmine)",
                pytrace=False,
            )
        return self

    def __exit__(self, *_exc: object) -> None:
        (INSTANCES / self.name).unlink(missing_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "REDMINE_INSTANCE": self.name, "RAILS_ENV": "production"}

    def run(self, *argv: str, **extra_env: str) -> None:
        done = subprocess.run(
            list(argv), cwd=REDMINE_ROOT, env={**self.env, **extra_env},
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(
                f"Redmine set-up step {' '.join(argv)} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}",
                pytrace=False,
            )


def _template() -> Path:
    """The cached prepared database folder (redmine.sqlite3 + seed.json); built if missing."""
    template = Path(tempfile.gettempdir()) / f"posfleet-redmine-template-{_version()}"
    if (template / "seed.json").is_file():
        return template
    work = Path(tempfile.mkdtemp(prefix="posfleet-redmine-build-"))
    try:
        database = work / "redmine.sqlite3"
        _write_instance(work / "instance", database)
        with _Instance(f"posfleet-build-{secrets.token_hex(4)}", work / "instance") as inst:
            inst.run("rake", "db:migrate")
            inst.run("rake", "redmine:load_default_data", REDMINE_LANG="en")
            seed = work / "seed.rb"
            seed.write_text(SEED)
            inst.run("bin/rails", "runner", str(seed), POSFLEET_SEED_OUT=str(work / "seed.json"))
        staged = Path(tempfile.mkdtemp(prefix="posfleet-redmine-staged-"))
        shutil.copy2(database, staged / "redmine.sqlite3")
        shutil.copy2(work / "seed.json", staged / "seed.json")
        try:
            staged.rename(template)
        except OSError:
            shutil.rmtree(staged, ignore_errors=True)  # another session built it meanwhile
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return template


@pytest.fixture(scope="session")
def redmine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineServer]:
    """A Redmine for the whole session, with project ``posfleet`` and the REST API on."""
    if not (REDMINE_ROOT / "bin" / "rails").exists():
        pytest.fail(
            "Redmine is not installed: apt-get install redmine redmine-sqlite thin "
            "(scripts/setup does)",
            pytrace=False,
        )
    template = _template()
    seed = json.loads((template / "seed.json").read_text())
    folder = tmp_path_factory.mktemp("redmine")
    database = folder / "redmine.sqlite3"
    shutil.copy2(template / "redmine.sqlite3", database)
    _write_instance(folder / "instance", database)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with _Instance(f"posfleet-test-{secrets.token_hex(4)}", folder / "instance") as inst:
        process = ManagedProcess(
            "redmine",
            [
                str(REDMINE_ROOT / "bin" / "rails"), "server", "-b", LOOPBACK, "-p", str(port),
                "-e", "production", "-P", str(folder / "instance" / "tmp" / "pids" / "server.pid"),
            ],
            log_path=folder / "server.log",
            ready=lambda: http_ok(f"{url}/issues.json?key={seed['api_key']}"),
            cwd=REDMINE_ROOT,
            env=inst.env,
            start_timeout=60,
        )
        with process.serving():
            yield RedmineServer(
                url=url,
                api_key=seed["api_key"],
                project=seed["project"],
                custom_field_id=int(seed["custom_field_id"]),
                log_path=folder / "server.log",
            )
