"""``python -m pixelcourse.app [--port 8866] [--ip 127.0.0.1] [--no-browser] [--queue 64]``: serve the drawing pad."""

from .serve import main

raise SystemExit(main())
