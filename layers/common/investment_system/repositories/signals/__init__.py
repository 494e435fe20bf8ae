"""Data access for trading signals."""
