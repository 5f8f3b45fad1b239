"""`python -m tfopt` runs the command line."""

import sys

from tfopt.cli import main

sys.exit(main())
