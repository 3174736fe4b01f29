"""Checks of whole models assembled from the learner's own parts: the PixelCNN (02) and the Gated PixelCNN (04).

Both contracts share the input scaling, the logits layout, causality by gradients, the ReLUs of the head and
the comparison with the package's model on the learner's weights; each model names its own parts.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import GatedPixelCNN, PixelCNN, PixelCNNConfig
from ..plots import blind_spot
from .core import Wrong, register, _close, _first_line

# Every argument the contract names is varied: levels, hidden, layers, input_kernel, kernel_size, and the image size.
CONFIGS = [
    dict(levels=4, hidden=8, layers=2, input_kernel=3, kernel_size=3, height=5, width=6),
    dict(levels=2, hidden=6, layers=1, input_kernel=5, kernel_size=3, height=6, width=5),
    dict(levels=7, hidden=8, layers=0, input_kernel=3, kernel_size=3, height=4, width=4),
    dict(levels=256, hidden=4, layers=3, input_kernel=7, kernel_size=5, height=6, width=6),
]


def _config(arch: str = "pixelcnn", **fields) -> PixelCNNConfig:
    return PixelCNNConfig(arch=arch, channels=1, dataset="mnist", **fields)


def _pixelcnn_example(cls):
    return cls(_config(**CONFIGS[0]))


def _gated_example(cls):
    return cls(_config("gated", **CONFIGS[0]))


def _head_inputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The inputs of every convolution the forward pass runs, in the order it runs them."""
    seen, hooks = [], [m.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach()))
                       for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _dependencies(model: nn.Module, c: PixelCNNConfig) -> torch.Tensor:
    """Bool (H, W, H, W): (i, j, k, l) is True when the logits at (i, j) have a gradient w.r.t. input pixel (k, l).

    The gradient is taken at the input of the model's first convolution (whatever scaling comes before
    it): image n of a batch of H * W random images asks for the gradient of output position n.
    """
    n = c.height * c.width
    x = torch.randint(0, c.levels, (n, 1, c.height, c.width), generator=torch.Generator().manual_seed(3))
    leaf = {}

    def grab(_, args):  # the input layer(s): every convolution that reads what the first one read
        if "x" not in leaf:
            leaf["input"], leaf["x"] = args[0], args[0].detach().requires_grad_(True)
        return (leaf["x"],) if args[0] is leaf["input"] else None

    hooks = [m.register_forward_pre_hook(grab) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        out = model(x).reshape(n, c.levels, n)  # (H*W, levels, H*W)
    finally:
        for hook in hooks:
            hook.remove()
    out[torch.arange(n), :, torch.arange(n)].pow(2).sum().backward()
    return (leaf["x"].grad.abs().sum(dim=1) > 0).view(c.height, c.width, c.height, c.width)


def _check_output(model, c: PixelCNNConfig, where: str) -> torch.Tensor:
    x = torch.randint(0, c.levels, (2, 1, c.height, c.width))  # (B, 1, H, W) levels
    try:
        out = model(x)
    except Exception as err:
        raise Wrong(f"{where}: model(x) for x long (2, 1, {c.height}, {c.width}) raised {type(err).__name__}: "
                    f"{_first_line(err)}") from None
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise Wrong(f"{where}: forward must return float logits, got "
                    f"{out.dtype if isinstance(out, torch.Tensor) else type(out).__name__}")
    want = (2, c.levels, 1, c.height, c.width)
    if tuple(out.shape) != want:
        shape = tuple(out.shape)
        if shape == (2, c.levels, c.height, c.width):
            raise Wrong(f"{where}: logits of shape {shape} lack the channel dimension: the layout is "
                        f"(B, levels, C, H, W) = {want}")
        if shape == (2, 1, c.levels, c.height, c.width) and c.levels != 1:
            raise Wrong(f"{where}: logits of shape {shape} put the levels in dim 2: the levels come first, "
                        f"(B, levels, C, H, W) = {want}, as F.cross_entropy wants its classes in dim 1")
        raise Wrong(f"{where}: logits must have shape (B, levels, C, H, W) = {want}, got {shape}")
    probs = out.detach()
    if (probs >= 0).all() and _close(probs.sum(1), torch.ones_like(probs.sum(1)), 1e-4):
        raise Wrong(f"{where}: forward returns probabilities (they sum to 1 over the levels); return the logits "
                    "before any softmax: the loss applies it")
    return x


def _check_causal(model, c: PixelCNNConfig, where: str) -> torch.Tensor:
    depends = _dependencies(model, c)
    order = torch.arange(c.height * c.width).view(c.height, c.width)
    later = order[None, None] > order[:, :, None, None]  # (H, W, H, W): input (k, l) after output (i, j)
    same = order[None, None] == order[:, :, None, None]
    if (depends & same).any():
        i, j = (depends & same).nonzero()[0, :2].tolist()
        raise Wrong(f"{where}: the logits at ({i}, {j}) depend on pixel ({i}, {j}) itself, the value they predict: "
                    "the first layer needs mask A (mask B belongs to the later layers)")
    if (depends & later).any():
        i, j, k, l = (depends & later).nonzero()[0].tolist()
        raise Wrong(f"{where}: the logits at ({i}, {j}) depend on the later pixel ({k}, {l}): every convolution "
                    "with a kernel larger than 1x1 must be masked")
    if not depends.any():
        raise Wrong(f"{where}: the logits do not depend on the image at all: feed x through the input layer and the blocks")
    return depends


def _check_reach(depends: torch.Tensor, reference, c: PixelCNNConfig, where: str) -> None:
    """The field of the reference with the learner's weights: the same, unless a block is skipped or too small."""
    allowed = _dependencies(reference, c)
    if c.arch == "gated" and not torch.equal(depends, allowed):
        missing = allowed & ~depends  # (H, W, H, W)
        rows = torch.arange(c.height)
        same_row = (rows[:, None, None, None] == rows[None, None, :, None]).expand_as(missing)
        if (missing & same_row).any():
            raise Wrong(f"{where}: the logits miss earlier pixels of their own row: the horizontal stack (h_in, then "
                        "every block's h) is what the head must read")
        wedge = torch.stack([blind_spot(c.height, c.width, i, j, c.input_kernel)
                             for i in range(c.height) for j in range(c.width)]).view_as(missing)
        if (missing & wedge).any():
            raise Wrong(f"{where}: your model has the blind spot of notebook 01: pixels up and to the right are never "
                        "seen. The vertical stack must run through every block and reach the horizontal one")
    if not torch.equal(depends, allowed):
        raise Wrong(f"{where}: the logits see fewer earlier pixels than an input layer of kernel "
                    f"{c.input_kernel} and {c.layers} blocks of kernel {c.kernel_size} reach: are all the blocks "
                    "applied in turn, with the kernel sizes of the config?")


def _check_head(model, x, where: str) -> None:
    inputs = _head_inputs(model, x)
    if len(inputs) >= 2 and (inputs[-2] < 0).any():
        raise Wrong(f"{where}: the head's first 1x1 convolution reads negative features: put a ReLU before it "
                    "(the blocks' sums can be negative)")
    if inputs and (inputs[-1] < 0).any():
        raise Wrong(f"{where}: the head's last 1x1 convolution reads negative values: put a ReLU between the "
                    "head's two convolutions")


def _check_same_as_reference(model, reference, x, depends, c: PixelCNNConfig, where: str) -> None:
    state = model.state_dict()
    if set(state) != set(reference.state_dict()):
        extra = sorted(set(state) - set(reference.state_dict()))[:3]
        missing = sorted(set(reference.state_dict()) - set(state))[:3]
        names = "v_in, h_in, blocks, head" if c.arch == "gated" else "input_conv, blocks, head"
        raise Wrong(f"{where}: the weights are not named as the contract says ({names}); "
                    f"unexpected {extra}, missing {missing}")
    try:
        reference.load_state_dict(state)
    except RuntimeError as err:
        raise Wrong(f"{where}: a layer has the wrong shape: {_first_line(err)}") from None
    _check_reach(depends, reference, c, where)
    with torch.no_grad():
        got, want = model(x), reference(x)
        if _close(got, want, 1e-4):
            return
        for scale, what in ((x.float(), "the raw levels"), (x.float() / (c.levels - 1), "levels / (levels - 1)")):
            feats = reference.features(scale)
            if _close(got, reference.logits_from_features(feats), 1e-4):
                raise Wrong(f"{where}: the first layer reads {what}; scale the levels to [-1, 1] first: "
                            "2 * x / (levels - 1) - 1")
    if c.arch == "gated":
        raise Wrong(f"{where}: the logits differ from the contract's Gated PixelCNN with your weights: v_in and h_in "
                    "on the scaled image, every block in turn on (v, h), then the head on h")
    raise Wrong(f"{where}: the logits differ from the contract's PixelCNN with your weights: input layer, then "
                "every block in turn, then ReLU, 1x1, ReLU, 1x1")


def _check_model(model_class, arch: str) -> None:
    reference_class, name = (GatedPixelCNN, "MyGatedPixelCNN") if arch == "gated" else (PixelCNN, "MyPixelCNN")
    for fields in CONFIGS:
        c = _config(arch, **fields)
        where = ", ".join(f"{k}={v}" for k, v in fields.items())
        torch.manual_seed(0)
        model = model_class(c)
        if not isinstance(model, nn.Module):
            raise Wrong(f"{name}(config) must be an nn.Module, got {type(model).__name__}")
        if getattr(model, "config", None) != c:
            raise Wrong("keep the config as model.config: the training loop and the checkpoints read it")
        reference = reference_class(c)
        x = _check_output(model, c, where)
        depends = _check_causal(model, c, where)
        _check_head(model, x, where)
        mine, want = sum(p.numel() for p in model.parameters()), sum(p.numel() for p in reference.parameters())
        if mine != want:
            parts = ("v_in and h_in map 1 channel to hidden" if arch == "gated" else "the input layer maps 1 channel to hidden")
            raise Wrong(f"{where}: {mine:,} parameters where the contract's model has {want:,}: {parts}, {c.layers} "
                        "blocks, a head of 1x1 hidden -> hidden and hidden -> levels")
        _check_same_as_reference(model, reference, x, depends, c, where)


@register("check_pixelcnn", "Your PixelCNN", "02", example=_pixelcnn_example)
def check_pixelcnn(model_class):
    _check_model(model_class, "pixelcnn")


@register("check_gated_pixelcnn", "Your Gated PixelCNN", "04", example=_gated_example)
def check_gated_pixelcnn(model_class):
    _check_model(model_class, "gated")
