"""Data access: typed repositories over the ORM models, used by services inside a unit of work."""
