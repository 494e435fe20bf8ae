"""python -m invest_dev.load: see invest_dev.load."""

import sys

from invest_dev.load.run import main

sys.exit(main())
