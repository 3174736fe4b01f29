"""``python -m pixelcourse.app [--port 8866] [--ip 127.0.0.1] [--no-browser]``: serve the drawing pad."""

from .serve import main

raise SystemExit(main())
