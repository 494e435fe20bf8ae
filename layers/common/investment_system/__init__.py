"""Investment System shared layer: settings, errors, observability, HTTP plumbing, data and services."""

__version__ = "0.1.0"
