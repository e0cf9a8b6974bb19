"""``python -m playground``: the same command line as ``backpressure-playground``."""

import sys

from playground.cli import main

if __name__ == "__main__":
    sys.exit(main())
