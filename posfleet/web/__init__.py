"""The web app: merchants' status pages, IT's fleet view and ticket queue, and the JSON API.

``posfleet web serve`` runs it; :func:`posfleet.web.app.create_app` builds it. This package
imports nothing heavy at the top so the configuration can import :mod:`.config`.
"""
