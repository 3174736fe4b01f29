"""Checks for the course's exercises: each prints one line and never stops the notebook.

Every exercise in the notebooks is a function (or class) with a fixed contract,
followed by a check cell such as ``pixelcourse.checks.check_causal_mask(causal_mask)``.
A check prints exactly one line::

    ✅ Masks A and B by hand: passed
    ⏳ Masks A and B by hand: not implemented yet
    ❌ Masks A and B by hand: wrong — mask A must be 0 at the centre ...

The check cells are marked ``# NBVAL_CHECK_OUTPUT``; the solution notebooks store the
"passed" line, so ``pytest --nbval-lax notebooks/...`` passes exactly when the exercises
of that notebook are solved. Checks run on small inputs in a forked random state, so they
never change the random numbers of the notebook around them.

One module per notebook holds its checks (``ch01_masks`` ... ``ch08_visualisation``);
``core`` holds the machinery that runs them.
"""

from .core import EXERCISES, NOT_IMPLEMENTED, PASSED, SYMBOLS, WRONG, Exercise, Wrong, evaluate
from .ch01_masks import check_causal_mask, check_masked_conv
from .ch02_blocks import check_residual_block
from .assembled import check_gated_pixelcnn, check_pixelcnn
from .ch03_training import check_train_loop, check_training_step
from .ch04_gated import check_gated_block, check_vertical_conv
from .ch05_colour import check_color_mask, check_discretised_logistic
from .ch06_sampling import check_complete_loop, check_sample_step
from .ch07_temperature import check_nucleus
from .ch08_visualisation import check_effective_field
from .ch10_likelihood import check_marginal_bits
