"""pixelcourse: the package behind the PixelCNN notebook course.

One module (or small package) per job, imported one way, from the bottom up:

- ``masks`` (01), ``layers`` (02, 04), ``mixture`` (05), ``models`` (03-05): the networks.
- ``quantisation``, ``data/`` (registry, formats, sources, store, dataset; ``python -m pixelcourse.data``).
- ``likelihood`` (bits/dim), ``checkpoints`` (files and the manifest), ``precision`` (float32 or
  bfloat16), ``training`` (03: ``TrainConfig``, ``lr_at``, the epoch loop, ``fit``); command lines
  ``train`` and ``evaluate``.
- ``sampling/`` (06-07): one step, ``sample`` and ``complete``, the naive and the fast sampler and its
  row caches.
- ``plots`` (08), ``widget/`` (09: pad functions, controls, rendering, the background run, ``DrawPad``),
  ``app/`` (the pad alone in a browser, ``python -m pixelcourse.app``), ``compression/`` (10).
- ``checks/`` for the exercises; ``settings``, ``threads`` (how many torch uses in a notebook) and
  ``util`` are shared by all.
"""

from .masks import MaskedConv2d, make_mask
from .layers import GatedBlock, ResidualBlock, gated_activation
from .models import (
    PRESETS,
    GatedPixelCNN,
    PixelCNN,
    PixelCNNConfig,
    build_model,
    count_parameters,
    model_from_config,
    preset_config,
)
from .likelihood import bits_per_dim
from .checkpoints import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from .training import TrainConfig, fit, train_or_load
from .sampling import complete, sample, sample_step
from .plots import effective_field, plot_mask, receptive_field, show_grid
from .compression import CompressionError, compress, decompress
from .settings import CHECKPOINT_DIR, DATA_DIR, quick, quick_or
from .quantisation import dequantise, quantise
from .data import load_dataset, subset
from .live import LiveLoss
from . import mine, threads

__version__ = "0.1.0"

threads.watch_cells()  # in a notebook: torch computes on the cores other programs leave free
