"""Ticketing systems the bridge pushes tickets to: a generic webhook, Redmine and Jira."""
