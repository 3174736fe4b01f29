"""A live loss plot for training cells (notebooks 03, 04): it redraws itself as the steps come in."""

from __future__ import annotations

import time
from collections.abc import Callable


class LiveLoss:
    """Wraps a training step ``step(model, optimizer, x, y) -> float`` and plots its losses as they come.

    Use the wrapper in place of the step: ``train_loop(model, data, steps, LiveLoss(training_step), ...)``.
    The figure is redrawn at most every ``every`` seconds (drawing costs time too) and once more by
    ``close()``, which leaves the final figure in the cell. ``losses`` holds every loss.
    """

    def __init__(self, step: Callable, title: str = "Training loss", every: float = 3.0, window: int = 20):
        self.step, self.title, self.every, self.window = step, title, every, window
        self.losses: list[float] = []
        self.start, self.drawn, self.handle = time.perf_counter(), 0.0, None

    def __call__(self, model, optimizer, x, y=None) -> float:
        loss = self.step(model, optimizer, x, y)
        self.losses.append(loss)
        if time.perf_counter() - self.drawn >= self.every:
            self.draw()
        return loss

    def figure(self):
        """The loss of every step and its running mean, against the step."""
        import matplotlib.pyplot as plt  # on first draw, as in pixelcourse.plots

        fig, ax = plt.subplots(figsize=(8, 3.6))
        steps = range(1, len(self.losses) + 1)
        means = [sum(self.losses[max(0, k - self.window + 1) : k + 1]) / len(self.losses[max(0, k - self.window + 1) : k + 1])
                 for k in range(len(self.losses))]
        ax.plot(steps, self.losses, color="tab:blue", alpha=0.3, label="loss of each step")
        ax.plot(steps, means, color="tab:blue", label=f"running mean ({self.window} steps)")
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("bits per dimension (log scale)")
        seconds = time.perf_counter() - self.start
        ax.set_title(f"{self.title}: {len(self.losses)} steps in {seconds:.0f} s")
        ax.legend(loc="upper right")
        fig.tight_layout()
        return fig

    def draw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = self.figure()
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
        self.drawn = time.perf_counter()

    def close(self) -> None:
        """Draw the final figure."""
        if self.losses:
            self.draw()
