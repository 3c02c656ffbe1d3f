"""``python -m tinycompress``: the command line (:mod:`tinycompress.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
