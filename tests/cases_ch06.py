"""Answers for the checks of notebook 06: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch

import pixelcourse


def sample_level(logits, generator):
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


def loop(order="ijc", once="", copy=True, zero=True, keep_known=True, pass_labels=True,
         use_generator=True, use_temperature=True, draw=None, out=lambda x: x):
    """A completion loop with one knob per usual mistake; the defaults give the right answer."""

    @torch.no_grad()
    def my_complete(model, images, known, generator, temperature=1.0, labels=None):
        c = model.config
        x = images.clone() if copy else images
        if zero:
            x[~known] = 0
        sizes = {"i": c.height, "j": c.width, "c": c.channels}
        y = labels if pass_labels else None
        t = temperature if use_temperature else 1.0
        g = generator if use_generator else None
        logits = model(x, y)
        for a in range(sizes[order[0]]):
            for b in range(sizes[order[1]]):
                if once == "pixel":
                    logits = model(x, y)
                for d in range(sizes[order[2]]):
                    at = dict(zip(order, (a, b, d)))
                    i, j, ch = at["i"], at["j"], at["c"]
                    if not once:
                        logits = model(x, y)
                    here = logits[:, :, ch, i, j]  # (N, levels)
                    if draw is not None:
                        new = draw(here)
                    else:
                        new = pixelcourse.sample_step(here, t, g)
                    x[:, ch, i, j] = torch.where(known[:, ch, i, j], x[:, ch, i, j], new) if keep_known else new
        return out(x)

    return my_complete


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_sample_step": (
        sample_level,
        [
            (lambda logits, generator: logits.argmax(-1), "most likely"),
            (lambda logits, generator: torch.randint(0, logits.shape[-1], logits.shape[:1], generator=generator), "equally"),
            (lambda logits, generator: torch.multinomial(torch.softmax(logits, -1), 1)[:, 0], "generator"),
            (lambda logits, generator: sample_level(logits, generator).float(), "torch.long"),
        ],
    ),
    "check_complete_loop": (
        loop(),
        [
            (loop(order="cij"), "colour loop runs outside"),
            (loop(order="jic"), "columns before rows"),
            (loop(order="cji"), "columns before rows"),
            (loop(once="image"), "run it again after every drawn sub-pixel"),
            (loop(once="pixel"), "run it again after every drawn sub-pixel"),
            (loop(keep_known=False), "known value was overwritten"),
            (loop(copy=False), "in place"),
            (loop(zero=False), "zero the unknown values"),
            (loop(pass_labels=False), "labels"),
            (loop(out=lambda x: x.float()), "torch.long"),
            (loop(out=lambda x: x[:, 0]), "shape"),
            (loop(out=lambda x: x.float() / 10), "torch.long"),
            (lambda model, images, known, generator, temperature=1.0, labels=None:
             loop()(model, images.float(), known, generator, temperature, labels), "torch.long"),
            (loop(use_generator=False), "generator"),
            (lambda model, images, known, generator, temperature=1.0, labels=None: torch.cat([
                loop()(model, images[n : n + 1], known[n : n + 1], generator, temperature,
                       None if labels is None else labels[n : n + 1]) for n in range(len(images))]), "whole batch"),
            (loop(use_temperature=False), "temperature"),
            (loop(draw=lambda logits: logits.argmax(-1)), "sample_step"),
        ],
    ),
}
