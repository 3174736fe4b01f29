"""``python -m pixelcourse.grade``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
