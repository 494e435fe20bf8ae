"""Shared by every domain or run by the platform: audit, idempotency, rate limits, health, housekeeping, migrations."""
