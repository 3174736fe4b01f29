"""Checks of notebook 03: one training step in bits/dim, and the loop around it."""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F

from ..data import PixelDataset
from ..likelihood import LN2
from ..models import build_model
from .core import Wrong, register


# --------------------------------------------------------------------------- tiny models and data

SIDE, LEVELS = 6, 4  # tiny 1x6x6 images with 4 levels: a training step takes milliseconds


def _tiny_model(num_classes: int = 0, seed: int = 0):
    torch.manual_seed(seed)
    return build_model("mnist", height=SIDE, width=SIDE, levels=LEVELS, hidden=8, layers=1, input_kernel=3,
                       num_classes=num_classes)


def _tiny_data(n: int = 64):
    """n images whose rows repeat the first row (easy to learn); the label is the level of the top-left pixel."""
    generator = torch.Generator().manual_seed(1)
    first_row = torch.randint(0, LEVELS, (n, 1, 1, SIDE), generator=generator)  # (n, 1, 1, W) levels
    levels = first_row.expand(n, 1, SIDE, SIDE)  # (n, 1, H, W)
    images = (levels * (256 // LEVELS) + 10).to(torch.uint8).contiguous()  # 8-bit values in the middle of each bin
    return PixelDataset(images, first_row[:, 0, 0, 0], levels=LEVELS, name="tiny", split="train")


def _reference_step(model, optimizer, x, y=None) -> float:
    logits = model(x, y)  # (B, levels, C, H, W)
    loss = F.cross_entropy(logits, x) / LN2  # mean over every sub-pixel, in bits
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def reference_loop(model, data, steps: int, training_step, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
                   seconds: float | None = None) -> list[float]:
    """The training loop of notebook 03's exercise: Adam on random batches, for steps or seconds."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    conditional = model.config.num_classes > 0
    model.train()
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
        x, y = data.batch(torch.randint(len(data), (batch_size,), generator=generator))
        losses.append(training_step(model, optimizer, x, y if conditional else None))
    return losses


def _flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).double()


def _flat_grad(model) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().flatten()
                      for p in model.parameters()]).double()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-3, atol=1e-7)


# --------------------------------------------------------------------------- 03 one training step


def _step_example(fn):
    model = _tiny_model()
    x, _ = _tiny_data(4).batch(range(4))
    return fn(model, torch.optim.SGD(model.parameters(), lr=0.1), x)


def _check_loss_value(got, want: float, x: torch.Tensor) -> float:
    if isinstance(got, torch.Tensor):
        if got.requires_grad:
            raise Wrong("you returned the loss tensor, which still holds the whole graph of the step (memory grows "
                        "with every step you keep): return loss.item(), a Python float")
        raise Wrong(f"return a Python float (loss.item()), not a {type(got).__name__}")
    if not isinstance(got, float):
        raise Wrong(f"return the loss as a Python float (loss.item()), got {type(got).__name__}")
    if math.isclose(got, want, rel_tol=1e-4):
        return got
    nats = want * LN2
    if math.isclose(got, nats, rel_tol=1e-4):
        raise Wrong("that loss is in nats per sub-pixel: divide the cross-entropy by ln 2 (math.log(2)) to get bits/dim")
    for scale, what in ((x.numel(), "the sum over the batch: average over all B * C * H * W sub-pixels"),
                        (x[0].numel(), "per image: average over the C * H * W sub-pixels of an image too")):
        if math.isclose(got, want * scale, rel_tol=1e-4) or math.isclose(got, nats * scale, rel_tol=1e-4):
            raise Wrong(f"that loss is {what} (F.cross_entropy's default reduction is the mean)")
    if math.isclose(got, -want, rel_tol=1e-4) or math.isclose(got, -nats, rel_tol=1e-4):
        raise Wrong("the loss has the wrong sign: it is the negative log-likelihood, a positive number to minimise")
    raise Wrong(f"expected the loss {want:.4f} bits/dim of the batch before the update, got {got:.4f}")


def _check_update(model, before: torch.Tensor, want: torch.Tensor, x: torch.Tensor, first: bool) -> None:
    """Compare the learner's update of the weights with plain SGD's ``want`` (both as changes of the flat weights)."""
    got = _flat(model) - before
    if _same(got, want):
        return
    if not got.abs().max() > 0:
        if _flat_grad(model).abs().max() > 0:
            raise Wrong("the weights did not change although the gradients are there: call optimizer.step() after "
                        "loss.backward()")
        raise Wrong("the weights did not change and no gradient is left: zero the gradients before loss.backward(), "
                    "not between backward and optimizer.step() (that throws the fresh gradients away)")
    if _same(got, -want):
        raise Wrong("the weights moved uphill: minimise the loss (backward on +loss), do not maximise it")
    if _same(got, want * LN2):
        raise Wrong("the update follows the loss in nats: call backward on the loss in bits (divided by ln 2)")
    if _same(got, want * x.numel()) or _same(got, want * x[0].numel()):
        raise Wrong("the update follows a summed loss: call backward on the mean over the sub-pixels")
    if not first:
        raise Wrong("the second step's update is not the gradient of the second batch alone: call "
                    "optimizer.zero_grad() before loss.backward(), else the gradients of earlier steps add up")
    raise Wrong("after one step the weights differ from plain SGD on the loss in bits/dim: compute the loss, "
                "zero the gradients, call backward, then optimizer.step()")


@register("check_training_step", "One training step", "03", example=_step_example)
def check_training_step(training_step):
    data = _tiny_data()
    lr = 0.5
    for num_classes in (0, 3):
        model = _tiny_model(num_classes)
        reference = copy.deepcopy(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        reference_optimizer = torch.optim.SGD(reference.parameters(), lr=lr)
        for call, indices in enumerate((range(0, 8), range(8, 16))):
            x, y = data.batch(indices)  # (8, 1, 6, 6) levels, (8,) labels in [0, 4)
            y = y.clamp(max=num_classes - 1) if num_classes else None
            before, reference_before = _flat(model), _flat(reference)
            want = _reference_step(reference, reference_optimizer, x, y)
            try:
                got = training_step(model, optimizer, x, y)
            except ValueError as err:
                if num_classes and "class-conditional" in str(err):
                    raise Wrong("the model here is class-conditional: pass the labels on, logits = model(x, y)") from None
                raise
            _check_loss_value(got, want, x)
            _check_update(model, before, _flat(reference) - reference_before, x, first=call == 0)


# --------------------------------------------------------------------------- 03 the training loop


class _Recorder:
    """A correct training step that notes what the loop hands it."""

    def __init__(self, pause: float = 0.0):
        self.pause = pause  # seconds each step takes at least (the time-budget test)
        self.late = math.inf  # a step after this time (perf_counter) is wrong
        self.calls = []  # (optimizer, x, y, model.training) per call; keeps every optimizer alive, so ids stay distinct
        self.returned = []

    def __call__(self, model, optimizer, x, y=None) -> float:
        if time.perf_counter() > self.late:
            raise Wrong("with seconds=1 and steps=1000 the loop was still running 2 s after its budget: stop "
                        "starting new steps once `seconds` have passed since the loop began")
        self.calls.append((optimizer, x.clone(), None if y is None else y.clone(), model.training))
        if model.config.num_classes == 0 and y is not None:
            raise Wrong("the model is unconditional: pass y=None to training_step (labels only when "
                        "model.config.num_classes > 0)")
        if model.config.num_classes and y is None:
            raise Wrong("the model is class-conditional: pass the batch's labels y to training_step")
        loss = _reference_step(model, optimizer, x, y) if isinstance(optimizer, torch.optim.Optimizer) else math.nan
        time.sleep(self.pause)
        self.returned.append(loss)
        return loss

    def batches(self) -> list[torch.Tensor]:
        return [x for _, x, _, _ in self.calls]


def _loop_example(fn):
    return fn(_tiny_model(), _tiny_data(), 2, _Recorder(), batch_size=4, lr=1e-2, seed=0)


def _run(train_loop, model, data, steps, batch_size=8, lr=3e-2, seed=0, global_seed=0):
    torch.manual_seed(global_seed)
    record = _Recorder()
    model.eval()  # a loop must put the model in train mode itself
    losses = train_loop(model, data, steps, record, batch_size=batch_size, lr=lr, seed=seed)
    return losses, record


def _check_optimizer(record: "_Recorder", model, steps: int, lr: float) -> None:
    """One Adam for the whole loop, over every parameter, at the asked learning rate."""
    params = {id(p) for p in model.parameters()}
    optimizers = {id(opt) for opt, _, _, _ in record.calls}
    optimizer = record.calls[0][0]
    if len(optimizers) > 1:
        raise Wrong(f"{len(optimizers)} optimizers for {steps} steps: create one torch.optim.Adam before the loop "
                    "(a new one at every step forgets Adam's running averages of the gradients)")
    if not isinstance(optimizer, torch.optim.Adam):
        raise Wrong(f"the optimizer is {type(optimizer).__name__}: use torch.optim.Adam(model.parameters(), lr=lr)")
    if {id(p) for group in optimizer.param_groups for p in group["params"]} != params:
        raise Wrong("the optimizer must hold every parameter of the model: torch.optim.Adam(model.parameters(), lr=lr)")
    if not math.isclose(optimizer.param_groups[0]["lr"], lr):
        raise Wrong(f"the optimizer's learning rate is {optimizer.param_groups[0]['lr']}, but lr={lr} was asked for")


@register("check_train_loop", "The training loop", "03", example=_loop_example)
def check_train_loop(train_loop):
    data = _tiny_data()
    steps, batch_size, lr = 30, 8, 3e-2
    model = _tiny_model()
    losses, record = _run(train_loop, model, data, steps, batch_size, lr)

    if len(record.calls) != steps:
        raise Wrong(f"training_step was called {len(record.calls)} times for steps={steps}: call it once per step")
    _check_optimizer(record, model, steps, lr)
    if not all(training for _, _, _, training in record.calls):
        raise Wrong("training_step ran with the model in eval mode: call model.train() before the loop")
    if not model.training:
        raise Wrong("the model was left in eval mode: leave it in train mode after training")

    if not isinstance(losses, list):
        raise Wrong(f"return a list of the losses, one per step, got {type(losses).__name__}")
    if len(losses) != steps:
        raise Wrong(f"return one loss per step: {len(losses)} losses for steps={steps}")
    if not all(isinstance(loss, float) for loss in losses):
        raise Wrong("every loss in the list must be the float that training_step returned")
    if losses != record.returned:
        raise Wrong("return the losses training_step returned, in the order of the steps")

    batches = record.batches()
    shapes = {tuple(x.shape) for x in batches}
    if shapes != {(batch_size, 1, SIDE, SIDE)}:
        raise Wrong(f"every batch must hold batch_size={batch_size} images of (1, {SIDE}, {SIDE}), got shapes "
                    f"{sorted(shapes)}")
    if all(torch.equal(x, batches[0]) for x in batches):
        raise Wrong("every step trains on the same batch: draw new random indices at every step")
    in_order = [data.batch(range(k * batch_size, (k + 1) * batch_size))[0] for k in range(2)]
    if all(torch.equal(x, want) for x, want in zip(batches, in_order)):
        raise Wrong("the batches come in the order of the dataset: draw random indices with the seeded generator")

    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    if not last < first - 0.3:
        raise Wrong(f"the loss did not fall clearly over {steps} steps on easy data ({first:.2f} -> {last:.2f} bits/dim)")

    # The batches depend on `seed` only, not on the global random state.
    _, again = _run(train_loop, _tiny_model(), data, 3, batch_size, lr, seed=0, global_seed=123)
    if not all(torch.equal(a, b) for a, b in zip(again.batches(), batches[:3])):
        raise Wrong("the batches depend on the global random state: draw the indices with "
                    "torch.Generator().manual_seed(seed) (generator=...)")
    _, other = _run(train_loop, _tiny_model(), data, 3, batch_size, lr, seed=1)
    if all(torch.equal(a, b) for a, b in zip(other.batches(), batches[:3])):
        raise Wrong("seed=1 draws the same batches as seed=0: seed the generator with the seed argument")

    _check_time_budget(train_loop, data)

    # A class-conditional model gets the labels of its images (here the level of the top-left pixel).
    _, labelled = _run(train_loop, _tiny_model(num_classes=LEVELS), data, 2, batch_size, lr)
    for _, x, y, _ in labelled.calls:
        if not torch.equal(y, x[:, 0, 0, 0]):
            raise Wrong("the labels y handed to training_step are not those of the batch's images: take both "
                        "from x, y = data.batch(indices)")


def _check_time_budget(train_loop, data) -> None:
    """seconds=None: no time limit; seconds=s: no new step once s seconds have passed since the loop began."""
    budget, pause = 1.0, 0.05
    record = _Recorder(pause=pause)
    start = time.perf_counter()
    record.late = start + budget + 2.0  # a step that starts this late proves the budget is ignored
    try:
        losses = train_loop(_tiny_model(), data, 1000, record, batch_size=4, lr=1e-2, seed=0, seconds=budget)
    except TypeError as err:
        raise Wrong(f"train_loop(..., seconds={budget}) raised TypeError ({err}): add the argument seconds=None") from None
    if len(record.calls) < 2:
        raise Wrong(f"with seconds={budget} and steps of {pause} s the loop ran only {len(record.calls)} step(s): "
                    "measure the time from the start of the loop, with time.perf_counter()")
    if len(losses) != len(record.calls):
        raise Wrong("with a time budget, still return one loss per step that ran")
    record = _Recorder()
    if train_loop(_tiny_model(), data, 3, record, batch_size=4, seed=0, seconds=None) is None or len(record.calls) != 3:
        raise Wrong("with seconds=None the loop must run exactly `steps` steps")
