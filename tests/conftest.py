"""Shared pytest configuration: registers the server fixtures from tests/fixtures/servers.py.

Fixtures: prometheus, prometheus_factory, alertmanager, alertmanager_factory, influxdb,
influxdb_factory, victoria_metrics, victoria_metrics_factory, mosquitto, mosquitto_factory,
postgres, postgres_dsn. See tests/fixtures/servers.py.
Browser fixtures (system Chromium via Playwright): chromium, page_factory, page, screenshots.
See tests/fixtures/browser.py.
"""

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.browser", "tests.fixtures.status_store"]
