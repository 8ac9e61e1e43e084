"""The ticket bridge: Alertmanager webhooks in, one maintenance ticket per fault out.

``posfleet tickets serve`` runs it: :mod:`.api` receives webhooks and serves the REST API,
:mod:`.store` keeps tickets, their history and an outbox in SQLite or PostgreSQL, and
:mod:`.outbox` pushes every change to the ticketing systems in :mod:`.targets`.
This package's ``__init__`` stays empty of imports: the config models import
:mod:`.config` while they load.
"""
