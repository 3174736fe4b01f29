"""Sampling (notebooks 06-07): one entry point, two methods behind it.

- ``step.py``: one sampling step: temperature and top-p checks, nucleus probabilities, ``sample_step``.
- ``generate.py``: ``sample`` and ``complete``, the entry points every notebook and the widget use.
- ``naive.py``: one full forward pass per sub-pixel (the teaching version and the test oracle).
- ``fast.py``: one cached step per sub-pixel (``complete_fast``, ``fill_rows``); from 16 images on two
  threads, each half of the batch in its own thread (``fill_in_halves``).
- ``rows.py``, ``caches.py``, ``head.py``: the row caches behind the fast sampler.
- ``kernels.py``: the caches' step compiled by numba (the default where numba is installed); ``compile.py`` compiles it at setup.
"""

from .caches import GatedCache, PixelCNNCache, cache_bytes, make_cache
from .compile import warm_up
from .fast import complete_fast, fill_in_halves, fill_rows
from .generate import METHODS, complete, sample
from .head import Head
from .naive import complete_naive, positions
from .step import check_temperature, check_top_p, nucleus_probs, sample_step
