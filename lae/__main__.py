"""``python -m lae``: the ``lae`` command (:mod:`lae.launcher`)."""

import sys

from lae.launcher import main

sys.exit(main())
