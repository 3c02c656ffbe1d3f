"""``python -m tinycompress``: the command line (:mod:`tinycompress.cli`)."""
import sys

from .cli import main

sys.exit(main())
