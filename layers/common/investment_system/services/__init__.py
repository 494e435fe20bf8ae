"""Domain services: the rules of the API, on top of repositories and the unit of work."""
