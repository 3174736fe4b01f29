"""PixelCNN (notebooks 01-03) and Gated PixelCNN (notebooks 04-05), with named presets.

Both end in a softmax over the levels or, for CIFAR-10, a discretised logistic mixture (notebook 05).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .layers import GatedBlock, ResidualBlock, VerticalConv2d
from .masks import MaskedConv2d
from .mixture import mixture_log_prob, mixture_logits, mixture_step_logits


@dataclass
class PixelCNNConfig:
    """Everything needed to rebuild a model. Presets below; override any field."""

    arch: str = "pixelcnn"  # "pixelcnn" (masked convolutions) or "gated" (vertical + horizontal stacks)
    channels: int = 1  # 1 = grey, 3 = RGB (generated R -> G -> B inside each pixel)
    height: int = 28
    width: int = 28
    levels: int = 256  # intensity levels per sub-pixel, 2..256 (2 = binarised)
    hidden: int = 64  # feature channels (a multiple of 3 for colour)
    layers: int = 7  # residual or gated blocks after the input layer
    num_classes: int = 0  # 0 = unconditional; otherwise p(x | class)
    kernel_size: int = 3  # masked kernel inside the blocks
    input_kernel: int = 7  # masked kernel of the first (type A) layer
    dataset: str = ""  # the dataset it is meant for ("mnist", ...); informs checkpoints
    output: str = "softmax"  # "softmax": one logit per level; "logistic_mixture": discretised logistics (notebook 05)
    mixtures: int = 10  # logistic components per sub-pixel (output="logistic_mixture" only)
    dilations: tuple[int, ...] = (1,)  # dilation of each block's kxk kernel, repeated over the blocks, e.g. (1, 2, 4)
    color_order: str = "rgb"  # colour only: "rgb" (R -> G -> B inside a pixel) or "independent" (each colour from earlier pixels only)

    def __post_init__(self):
        problems = []
        if isinstance(self.dilations, int):
            self.dilations = (self.dilations,)
        self.dilations = tuple(self.dilations)
        if not self.dilations or not all(isinstance(d, int) and d >= 1 for d in self.dilations):
            problems.append(f"dilations must be a non-empty tuple of ints >= 1, got {self.dilations!r}")
        if self.color_order not in COLOR_ORDERS:
            problems.append(f"color_order must be one of {list(COLOR_ORDERS)}, got {self.color_order!r}")
        if self.arch not in ARCHITECTURES:
            problems.append(f"arch must be one of {sorted(ARCHITECTURES)}, got {self.arch!r}")
        if self.output not in OUTPUTS:
            problems.append(f"output must be one of {list(OUTPUTS)}, got {self.output!r}")
        if not (isinstance(self.mixtures, int) and self.mixtures >= 1):
            problems.append(f"mixtures must be an int >= 1, got {self.mixtures!r}")
        if self.channels not in (1, 3):
            problems.append(f"channels must be 1 (grey) or 3 (RGB), got {self.channels}")
        if not (isinstance(self.levels, int) and 2 <= self.levels <= 256):
            problems.append(f"levels must be an int in 2..256, got {self.levels!r}")
        if self.height < 1 or self.width < 1:
            problems.append(f"height and width must be positive, got {self.height}x{self.width}")
        if self.hidden < 2 or (self.channels == 3 and (self.hidden % 3 or self.hidden // 2 < 3)):
            problems.append(f"hidden must be >= 2, and a multiple of 3 (>= 6) for colour, got {self.hidden}")
        if self.layers < 0 or self.num_classes < 0:
            problems.append("layers and num_classes must be >= 0")
        for name in ("kernel_size", "input_kernel"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                problems.append(f"{name} must be odd, got {k}")
        if problems:
            raise ValueError("Invalid PixelCNNConfig: " + "; ".join(problems) + ".")

    @property
    def dims(self) -> int:
        """Sub-pixels per image, C * H * W."""
        return self.channels * self.height * self.width

    @property
    def color_groups(self) -> int:
        """Colour groups of the masks: 3 when R, G and B of a pixel are generated in turn, else 1.

        With ``color_order="independent"`` the masks are the grey ones: no colour of a pixel sees
        any colour of the same pixel, so R, G and B are predicted from earlier pixels only.
        """
        return self.channels if self.color_order == "rgb" else 1

    def dilation(self, block: int) -> int:
        """Dilation of the kxk kernel of block ``block`` (0-based)."""
        return self.dilations[block % len(self.dilations)]

    @property
    def head_params(self) -> int:
        """Numbers the output head gives per sub-pixel: one logit per level, or 3 per mixture component."""
        return self.levels if self.output == "softmax" else 3 * self.mixtures


OUTPUTS = ("softmax", "logistic_mixture")
COLOR_ORDERS = ("rgb", "independent")


class AutoregressiveModel(nn.Module):
    """Shared front and back of both models: input checks, normalisation, logits layout.

    ``model(x, y=None)``: x long (B, C, H, W) in [0, levels), y long (B,) class
    labels for conditional models. Returns logits (B, levels, C, H, W) where
    the logits at (c, i, j) depend only on sub-pixels before (c, i, j).
    ``model(x, y, raw=True)`` returns the head's output (B, head_params, C, H, W)
    instead: the logits themselves for a softmax head, the mixture parameters
    for a logistic-mixture head (training needs only the target's probability).
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        self.config = config

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, raw: bool = False) -> torch.Tensor:
        self.check_input(x, y)
        out = self.head_output(self.features(self.normalise(x), y))
        return out if raw else self.logits_from_raw(out)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised input (B, C, H, W) -> the features the head reads (B, hidden, H, W)."""
        raise NotImplementedError

    def forward_normalised(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from already normalised float input (B, C, H, W); used for input gradients."""
        return self.logits_from_features(self.features(x, y))

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x) of every sub-pixel from the head's output: raw (B, P, C, H, W), x (B, C, H, W) -> (B, C, H, W)."""
        if self.config.output == "softmax":
            return -F.cross_entropy(raw, x, reduction="none")
        with torch.autocast(raw.device.type, enabled=False):
            return mixture_log_prob(raw, x, self.config.levels)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Levels (B, C, H, W) -> floats in [-1, 1]."""
        return x.float() * (2.0 / (self.config.levels - 1)) - 1.0

    def head_output(self, features: torch.Tensor) -> torch.Tensor:
        """Output head: features (B, hidden, H, W) -> (B, head_params, C, H, W).

        The head runs in float32 even under bfloat16 autocast (``fit(precision="bfloat16")``):
        bfloat16 keeps 8 significant bits, too few for logits that a 256-way softmax compares.
        """
        with torch.autocast(features.device.type, enabled=False):
            out = self.head(features.float())  # (B, P * C, H, W), channel p * C + c
        b, _, h, w = out.shape
        return out.view(b, self.config.head_params, self.config.channels, h, w)

    def logits_from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """Head output (B, P, C, H, W) -> logits (B, levels, C, H, W)."""
        if self.config.output == "softmax":
            return raw
        with torch.autocast(raw.device.type, enabled=False):
            return mixture_logits(raw, self.config.levels)

    def step_logits(self, raw: torch.Tensor) -> torch.Tensor:
        """The head output of one sub-pixel per row (N, P) -> logits (N, levels): what both samplers draw from.

        The same as ``logits_from_raw`` up to float rounding; for a mixture head it takes the
        few-operation route of ``mixture_step_logits``, since it runs once per sub-pixel.
        """
        if self.config.output == "softmax":
            return raw
        with torch.autocast(raw.device.type, enabled=False):
            return mixture_step_logits(raw, self.config.levels)

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Features (B, hidden, H, W) -> logits (B, levels, C, H, W)."""
        return self.logits_from_raw(self.head_output(features))

    def _make_head(self):
        c = self.config
        return nn.Sequential(
            nn.ReLU(),
            MaskedConv2d(c.hidden, c.hidden, 1, "B", c.color_groups),
            nn.ReLU(),
            MaskedConv2d(c.hidden, c.head_params * c.channels, 1, "B", c.color_groups),
        )

    def check_input(self, x, y=None) -> None:
        """Raise one clear error for input the model cannot take."""
        self.check_images(x)
        check_labels(self.config, y, x.shape[0])

    def check_images(self, x) -> None:
        """Images must be torch.long (B, C, H, W) levels in [0, levels)."""
        c = self.config
        expected = (c.channels, c.height, c.width)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of pixel levels, got {type(x).__name__}.")
        if x.dtype != torch.long:
            raise TypeError(
                f"x must hold integer pixel levels as torch.long, got {x.dtype}. "
                f"Use x.long() for integer images, or pixelcourse.quantise(...) for uint8 images."
            )
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"x must have shape (B, {c.channels}, {c.height}, {c.width}), got {tuple(x.shape)}.")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= c.levels):
            raise ValueError(
                f"x holds values in [{int(x.min())}, {int(x.max())}] but this model has {c.levels} levels: "
                f"values must lie in [0, {c.levels - 1}]. Load data with levels={c.levels}."
            )


def check_labels(config: PixelCNNConfig, y, batch: int) -> None:
    """Class labels must be given exactly for conditional models, one per image, in range."""
    if config.num_classes == 0:
        if y is not None:
            raise ValueError("This model is unconditional (num_classes=0): call it without labels (y=None).")
        return
    if y is None:
        raise ValueError(f"This model is class-conditional ({config.num_classes} classes): pass labels y of shape ({batch},).")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.long or tuple(y.shape) != (batch,):
        got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"Labels must be a torch.long tensor of shape ({batch},), got {got}.")
    if batch and (int(y.min()) < 0 or int(y.max()) >= config.num_classes):
        raise ValueError(f"Labels must lie in [0, {config.num_classes - 1}], got [{int(y.min())}, {int(y.max())}].")


class PixelCNN(AutoregressiveModel):
    """PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks").

    7x7 mask-A input convolution, ``layers`` residual blocks with masked 3x3
    type-B convolutions, and a ReLU 1x1 output head. Stacked masked 3x3
    convolutions leave a blind spot up and to the right (notebook 01).
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        c = config
        self.input_conv = MaskedConv2d(c.channels, c.hidden, c.input_kernel, "A", c.color_groups)
        self.blocks = nn.ModuleList(
            ResidualBlock(c.hidden, c.kernel_size, c.color_groups, c.num_classes, c.dilation(k)) for k in range(c.layers)
        )
        self.head = self._make_head()

    def features(self, x, y=None):
        h = self.input_conv(x)  # (B, hidden, H, W)
        for block in self.blocks:
            h = block(h, y)
        return h


class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

    Input layer: a vertical convolution over the rows above and a mask-A
    horizontal 1 x k convolution; then ``layers`` gated blocks; the output
    head reads the horizontal stack. No blind spot.
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        c = config
        self.v_in = VerticalConv2d(c.channels, c.hidden, c.input_kernel, first=True)
        self.h_in = MaskedConv2d(c.channels, c.hidden, (1, c.input_kernel), "A", c.color_groups)
        self.blocks = nn.ModuleList(
            GatedBlock(c.hidden, c.kernel_size, c.color_groups, c.num_classes, c.dilation(k)) for k in range(c.layers)
        )
        self.head = self._make_head()

    def features(self, x, y=None):
        v = self.v_in(x)  # (B, hidden, H, W): rows above only
        h = self.h_in(x)  # (B, hidden, H, W): pixels to the left (and earlier colours)
        for block in self.blocks:
            v, h = block(v, h, y)
        return h


ARCHITECTURES = {"pixelcnn": PixelCNN, "gated": GatedPixelCNN}

PRESETS: dict[str, PixelCNNConfig] = {
    # Both MNIST presets use 10 residual blocks of 96 features: at 7 blocks of 64 (118k parameters) training had
    # stopped paying off (256 levels: 1.109 bits/dim after 5 epochs, train = test; binarised: about 66.6 nats per image).
    "mnist": PixelCNNConfig(arch="pixelcnn", channels=1, height=28, width=28, levels=256, hidden=96, layers=10, dataset="mnist"),
    "mnist_binary": PixelCNNConfig(arch="pixelcnn", channels=1, height=28, width=28, levels=2, hidden=96, layers=10, dataset="mnist"),
    "fashion_mnist": PixelCNNConfig(
        arch="gated", channels=1, height=28, width=28, levels=256, hidden=48, layers=5, num_classes=10, dataset="fashion_mnist"
    ),
    # The Gated PixelCNN of UvA's Tutorial 12 in shape: 7 gated blocks of 64, dilations 1, 2, 4 (a wider reach for the
    # same cost), softmax head. At equal CPU time it led the candidates of benchmarks/choose_mnist_gated.py.
    "mnist_gated": PixelCNNConfig(
        arch="gated", channels=1, height=28, width=28, levels=256, hidden=64, layers=7, dilations=(1, 2, 4), dataset="mnist"
    ),
    # CIFAR-10 uses PixelCNN++'s discretised logistic mixture head: with a 256-way softmax (5 gated blocks of 48)
    # training on a 2-core CPU had reached only 4.64 bits/dim after 3.3 epochs; the mixture head also halves the step time.
    "cifar10": PixelCNNConfig(
        arch="gated", channels=3, height=32, width=32, levels=256, hidden=48, layers=8, dataset="cifar10",
        output="logistic_mixture", mixtures=10,
    ),
}


def preset_config(preset: str, **overrides) -> PixelCNNConfig:
    """The config of a named preset with some fields replaced."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(PixelCNNConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"Unknown config field(s) {sorted(unknown)}; valid fields: {', '.join(sorted(fields))}.")
    return dataclasses.replace(PRESETS[preset], **overrides)


def model_from_config(config: PixelCNNConfig) -> AutoregressiveModel:
    """Build the architecture named by ``config.arch``."""
    return ARCHITECTURES[config.arch](config)


def build_model(preset: str, **overrides) -> AutoregressiveModel:
    """``build_model("mnist", hidden=32)``: a fresh model of a named preset.

    Presets: "mnist" (PixelCNN, 1x28x28, 256 levels, 10 blocks of 96), "mnist_binary" (the same, 2 levels),
    "fashion_mnist" (Gated, class-conditional, 10 classes), "cifar10" (Gated, 3x32x32).
    """
    return model_from_config(preset_config(preset, **overrides))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
