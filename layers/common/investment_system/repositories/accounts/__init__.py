"""Data access for accounts: users, their login sessions and refresh tokens."""
