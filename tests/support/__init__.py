"""Shared test helpers (local HTTP server, fakes)."""
