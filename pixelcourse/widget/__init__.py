"""The drawing pad of notebook 09: draw the top of a digit and watch the model finish it.

Everything that decides what the model sees is a plain function that needs no
browser (``pad``): ``rasterise`` turns recorded strokes into a 28x28 image,
``rows_to_keep`` says how many top rows are kept (by default every row down to
the last one with ink), ``known_mask`` and ``prepare`` build the input of
``pixelcourse.complete``. ``DrawPad`` (``drawpad``) wires them to its widgets
(``controls``), its canvases (``render``) and a background run (``run``).
ipycanvas and ipywidgets are imported only when a ``DrawPad`` is built, so
``import pixelcourse.widget`` works without them::

    from pixelcourse.widget import DrawPad
    DrawPad({"MNIST, 256 levels": mnist, "MNIST, binarised": mnist_binary})
"""

from .pad import (
    BACKGROUND,
    CELL,
    GAP,
    GRID,
    PENDING,
    SCALE,
    Stroke,
    completions_image,
    display_values,
    known_mask,
    last_ink_row,
    prepare,
    rasterise,
    rows_to_keep,
    stamp_segment,
    stamp_stroke,
    to_uint8,
)
from .drawpad import DrawPad, check_models

