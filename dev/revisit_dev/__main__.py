"""``python -m revisit_dev ...`` is the ``revisit`` command (the stack is ``python -m revisit_dev.stack``)."""

import sys

from revisit_dev.cli import main

sys.exit(main())
