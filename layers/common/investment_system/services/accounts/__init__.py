"""Accounts: registration, login, passwords, tokens and their sessions, profiles, administrators' changes."""
