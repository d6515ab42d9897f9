"""Disruption notices: set by operators (CLI, settings) or raised by the IdP watcher, shown on
the choice and error pages and at `/notices.json`."""
