"""Investment System shared layer: settings, errors, observability, HTTP plumbing, data and services."""

from investment_system.lazy_packages import defer_package_imports

__version__ = "0.1.0"

# Before any module of the layer imports Powertools or PyJWT (lazy_packages.py says why).
defer_package_imports()
