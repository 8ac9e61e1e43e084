"""posfleet: health monitor for fleets of card-payment (POS) terminals.

The import package ``posfleet`` is spread over the repository's top-level folders:
``posfleet/`` holds the core (telemetry contract, configuration, CLI), and
``posfleet.collector``, ``posfleet.exporters``, ``posfleet.alerts`` and
``posfleet.dashboards`` are the folders ``collector/``, ``exporters/``, ``alerts/`` and
``dashboards/`` (linked into ``posfleet/`` so that one import name covers them all).
"""

__version__ = "0.1.0"
