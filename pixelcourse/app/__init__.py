"""The drawing pad of notebook 09 as an application of its own: ``python -m pixelcourse.app``.

``pad`` builds what the page shows (the pad with the shipped MNIST checkpoints),
``serve`` checks the checkpoints and the address and starts Voilà on
``pad.ipynb``, a small notebook kept beside them. Voilà gives every browser tab
its own kernel, hence its own pad::

    python -m pixelcourse.app                  # http://127.0.0.1:8866/, opens a browser tab
    python -m pixelcourse.app --ip 0.0.0.0 --port 8000 --no-browser
"""

from .pad import load_models, make_pad
from .serve import AppError, main
