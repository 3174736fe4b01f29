"""The drawing pad of notebook 09 as a web app for a whole class: ``python -m pixelcourse.app``.

One process serves every user: ``models`` loads one copy of each shipped MNIST
checkpoint, ``inputs`` checks what a click asks for (the drawing is made with
the pad's own functions, ``pixelcourse.widget``), ``batcher`` completes the
clicks of many users in one call of the fast sampler, each with its own seed,
``page`` is the web page (Gradio) and ``api`` the JSON API beside it (``POST
/api/complete``); ``serve`` checks the checkpoints and the address and runs the
server::

    python -m pixelcourse.app                  # http://127.0.0.1:8866/, opens a browser tab
    python -m pixelcourse.app --ip 0.0.0.0 --port 8000 --no-browser
"""

from .models import MODELS, ModelEntry, default_model, load_models
from .batcher import Batcher, Busy, Request
from .inputs import BadRequest, parse_request
from .serve import AppError, main
