"""Investment System shared layer: settings, errors, observability, HTTP plumbing, data and services."""

from investment_system.init_phase import begin_init
from investment_system.lazy_packages import defer_package_imports

__version__ = "0.2.0"

# Before anything else the layer imports: no collection during a Lambda container's init (init_phase.py),
# and Powertools' and PyJWT's packages load a submodule per name used (lazy_packages.py).
begin_init()
defer_package_imports()
