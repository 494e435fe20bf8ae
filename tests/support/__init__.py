"""Helpers and pytest plugins shared by the suite, imported as `tests.support.<module>`."""
