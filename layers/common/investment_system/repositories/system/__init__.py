"""Data access shared by every domain or run by the platform: audit, idempotency, health, housekeeping."""
