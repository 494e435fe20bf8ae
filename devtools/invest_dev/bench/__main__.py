"""`make bench`: see the docstring of `invest_dev.bench`."""

import sys

from invest_dev.bench.run import main

sys.exit(main())
