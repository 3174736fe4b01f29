"""Answers for the checks of notebook 03: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from pixelcourse.checks.ch03_training import reference_loop


# --------------------------------------------------------------------------- one training step


def step(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_last(model, optimizer, x, y=None):  # right as well: the gradients are cleared after the step
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def step_in_nats(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_backward_in_nats(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item() / math.log(2)


def step_summed(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x, reduction="sum") / math.log(2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_per_image(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x, reduction="sum") / math.log(2) / x.shape[0]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_never_zeroed(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_without_step(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    optimizer.zero_grad()
    loss.backward()
    return loss.item()


def step_zero_grad_after_backward(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_returns_tensor(model, optimizer, x, y=None):
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def step_returns_detached_tensor(model, optimizer, x, y=None):
    return step_returns_tensor(model, optimizer, x, y).detach()


def step_returns_list(model, optimizer, x, y=None):
    return [step(model, optimizer, x, y)]


def step_log_likelihood(model, optimizer, x, y=None):  # maximises the loss, reports it negative
    loss = -F.cross_entropy(model(x, y), x) / math.log(2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_uphill(model, optimizer, x, y=None):  # reports the right number but climbs
    loss = F.cross_entropy(model(x, y), x) / math.log(2)
    optimizer.zero_grad()
    (-loss).backward()
    optimizer.step()
    return loss.item()


def step_without_labels(model, optimizer, x, y=None):
    return step(model, optimizer, x)


def step_loss_after_update(model, optimizer, x, y=None):
    step(model, optimizer, x, y)
    with torch.no_grad():
        return (F.cross_entropy(model(x, y), x) / math.log(2)).item()


# --------------------------------------------------------------------------- the training loop


train_loop = reference_loop  # the check's own loop is the right answer


def train_with_epochs(model, data, steps, training_step, batch_size=32, lr=2e-3, seed=0,
                      seconds=None):  # right as well: shuffled epochs, and a deadline instead of a start time
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses, order = [], torch.tensor([], dtype=torch.long)
    deadline = math.inf if seconds is None else time.monotonic() + seconds
    while len(losses) < steps and time.monotonic() < deadline:
        if len(order) < batch_size:
            order = torch.randperm(len(data), generator=generator)
        indices, order = order[:batch_size], order[batch_size:]
        x, y = data.batch(indices)
        losses.append(training_step(model, optimizer, x, y if model.config.num_classes else None))
    return losses


def _loop(make_optimizer=None, indices=None, train_mode=True, after=None, result=None, labels="right", total=None,
          budget="right"):
    """A training loop with one thing changed, for the wrong answers below."""

    def loop(model, data, steps, training_step, batch_size=32, lr=2e-3, seed=0, seconds=None):
        generator = torch.Generator().manual_seed(seed)
        optimizer = make_optimizer(model, lr) if make_optimizer else torch.optim.Adam(model.parameters(), lr=lr)
        if train_mode:
            model.train()
        losses, start = [], time.perf_counter()
        for k in range(steps if total is None else total(steps)):
            if budget == "right" and seconds is not None and time.perf_counter() - start >= seconds:
                break
            if budget == "per step" and seconds is not None and k >= seconds:  # seconds read as a number of steps
                break
            idx = indices(k, len(data), batch_size, generator) if indices else \
                torch.randint(len(data), (batch_size,), generator=generator)
            x, y = data.batch(idx)
            y = {"right": y if model.config.num_classes else None, "always": y, "never": None,
                 "shuffled": y[torch.randperm(len(y))] if model.config.num_classes else None}[labels]
            losses.append(training_step(model, optimizer, x, y))
        if after:
            after(model)
        return result(losses) if result else losses

    return loop


def _new_optimizer_each_step(model, data, steps, training_step, batch_size=32, lr=2e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        x, _ = data.batch(torch.randint(len(data), (batch_size,), generator=generator))
        losses.append(training_step(model, optimizer, x))
    return losses


def _global_random(k, n, batch_size, generator):
    return torch.randint(n, (batch_size,))


CASES = {
    "check_training_step": (
        step,
        [
            (step_in_nats, "ln 2"),
            (step_backward_in_nats, "backward on the loss in bits"),
            (step_summed, "sum over the batch"),
            (step_per_image, "per image"),
            (step_never_zeroed, "zero_grad() before loss.backward()"),
            (step_without_step, "call optimizer.step()"),
            (step_zero_grad_after_backward, "not between backward and optimizer.step()"),
            (step_returns_tensor, "still holds the whole graph"),
            (step_returns_detached_tensor, "Python float"),
            (step_returns_list, "Python float"),
            (step_log_likelihood, "wrong sign"),
            (step_uphill, "uphill"),
            (step_without_labels, "model(x, y)"),
            (step_loss_after_update, "before the update"),
        ],
    ),
    "check_train_loop": (
        train_loop,
        [
            (_new_optimizer_each_step, "create one torch.optim.Adam before the loop"),
            (_loop(make_optimizer=lambda model, lr: torch.optim.SGD(model.parameters(), lr=lr)), "use torch.optim.Adam"),
            (_loop(make_optimizer=lambda model, lr: torch.optim.Adam(model.parameters())), "learning rate"),
            (_loop(make_optimizer=lambda model, lr: torch.optim.Adam(list(model.parameters())[:1], lr=lr)),
             "every parameter"),
            (_loop(train_mode=False), "model.train()"),
            (_loop(after=lambda model: model.eval()), "left in eval mode"),
            (_loop(result=lambda losses: losses[-1]), "list"),
            (_loop(result=lambda losses: losses[1:]), "one loss per step"),
            (_loop(total=lambda steps: steps - 1), "once per step"),
            (_loop(result=lambda losses: [torch.tensor(v) for v in losses]), "float"),
            (_loop(result=lambda losses: sorted(losses, reverse=True)), "in the order"),
            (_loop(indices=lambda k, n, b, g: torch.arange(b)), "same batch"),
            (_loop(indices=lambda k, n, b, g: torch.arange(k * b, (k + 1) * b) % n), "order of the dataset"),
            (_loop(indices=lambda k, n, b, g: torch.randint(n, (b // 2,), generator=g)), "batch_size=8"),
            (_loop(indices=_global_random), "global random state"),
            (_loop(indices=lambda k, n, b, g: torch.randint(n, (b,), generator=torch.Generator().manual_seed(k))),
             "seed argument"),
            (_loop(labels="always"), "y=None"),
            (_loop(labels="never"), "pass the batch's labels"),
            (_loop(labels="shuffled"), "not those of the batch's images"),
            (_loop(budget="ignored"), "stop starting new steps"),
            (_loop(budget="per step"), "ran only"),
        ],
    ),
}

# Other right answers: each must pass as well.
ALSO_RIGHT = {
    "check_training_step": [step_zero_grad_last],
    "check_train_loop": [train_with_epochs],
}
