"""pixelcourse: the package behind the PixelCNN notebook course.

One module per lesson topic: ``masks`` (01), ``layers`` (02, 04), ``models``
(03-05), ``data``, ``training``, ``sampling`` and ``fast`` (06-07), ``plots``
(08), ``widget`` (09), and ``checks`` for the exercises.
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

__version__ = "0.1.0"
