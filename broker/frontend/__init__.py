"""Protocols towards portals."""
