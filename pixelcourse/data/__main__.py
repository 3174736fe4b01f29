"""``python -m pixelcourse.data``: see ``pixelcourse.data.cli``."""

import sys

from .cli import main

sys.exit(main())
