"""The drawing pad's logic without a browser: strokes -> 28x28, brush, eraser, what is kept, the known mask,
and the DrawPad driven through ipycanvas's own event routing with a tiny model."""

import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from conftest import tiny_model
from pixelcourse import widget
from pixelcourse.sampling import complete
from pixelcourse.widget import (
    CELL,
    PENDING,
    Stroke,
    completions_image,
    display_values,
    known_mask,
    last_ink_row,
    prepare,
    rasterise,
    rows_to_keep,
    stamp_segment,
)


def centre(row, col):
    """Canvas pixel at the centre of a cell."""
    return (col + 0.5) * CELL, (row + 0.5) * CELL


# --------------------------------------------------------------------------- rasterisation


def test_a_horizontal_stroke_inks_its_row_fully_and_its_neighbours_softly():
    image = rasterise([Stroke([centre(5, 3), centre(5, 20)], width=2)])
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert (image[5, 3:21] == 255).all()
    # width 2: a cell one row away is covered by 2/2 + 0.5 - 1 = 0.5
    assert (image[4, 3:21] == 128).all() and (image[6, 3:21] == 128).all()
    assert not image[:4].any() and not image[7:].any()
    assert not image[5, :1].any() and not image[5, 23:].any()


def test_points_map_to_cells_row_y_over_cell_column_x_over_cell():
    image = rasterise([Stroke([(123.0, 47.0)], width=1)])  # a click: one dot
    assert np.unravel_index(image.argmax(), image.shape) == (4, 12)  # row 47 // 10, column 123 // 10
    assert rasterise([Stroke([centre(4, 12)], width=1)])[4, 12] == 255
    assert (image > 0).sum() <= 4  # a 1-cell brush touches at most the 2x2 cells around the point


def test_brush_width_widens_the_stroke():
    inked = [int((rasterise([Stroke([centre(14, 4), centre(14, 23)], width=w)]) > 0).sum()) for w in (1, 2, 3, 4)]
    assert inked == sorted(inked) and inked[0] < inked[-1]
    full_rows = [
        int((rasterise([Stroke([centre(14, 4), centre(14, 23)], width=w)])[:, 10] == 255).sum()) for w in (1, 3)
    ]
    assert full_rows == [1, 3]


@pytest.mark.parametrize("width", [0, -1, 100, "thick", True])
def test_bad_brush_width_is_one_clear_error(width):
    with pytest.raises(ValueError, match="brush width must be a number of cells"):
        rasterise([Stroke([(10, 10), (50, 50)], width=width)])


def test_eraser_removes_ink_and_order_matters():
    bar = Stroke([centre(10, 2), centre(10, 25)], width=3)
    rubber = Stroke([centre(2, 14), centre(25, 14)], width=3, erase=True)
    erased = rasterise([bar, rubber])
    assert (erased[9:12, 13:16] == 0).all()  # the crossing is gone
    assert (erased[10, 2:12] == 255).all()  # the rest of the bar stays
    assert not erased[:, 14][:9].any()  # the eraser never adds ink
    redrawn = rasterise([bar, rubber, bar])
    assert (redrawn == rasterise([bar])).all()


def test_painting_segment_by_segment_equals_painting_the_stroke():
    points = [(31.0, 40.0), (150.0, 42.0), (200.0, 120.0), (90.0, 260.0)]
    ink = np.zeros((28, 28))
    for p0, p1 in zip(points[:-1], points[1:]):
        stamp_segment(ink, p0, p1, width=2.5)
    assert (widget.to_uint8(ink) == rasterise([Stroke(points, width=2.5)])).all()
    # a finer sampling of the same straight lines gives the same cells (the mouse reports many points)
    fine = [tuple(np.array(p0) + t * (np.array(p1) - np.array(p0))) for p0, p1 in zip(points[:-1], points[1:])
            for t in np.linspace(0, 1, 7)]
    assert np.abs(rasterise([Stroke(fine, width=2.5)]).astype(int) - rasterise([Stroke(points, width=2.5)])).max() <= 1


def test_strokes_off_the_canvas_are_clipped():
    image = rasterise([Stroke([(-50, -50), (-10, 500)]), Stroke([(275, 275), (400, 400)], width=2)])
    assert image.shape == (28, 28)
    assert image[27, 27] > 0 and not image[:20].any()
    assert not rasterise([]).any()


# --------------------------------------------------------------------------- what is kept


def test_rows_to_keep_defaults_to_the_last_row_with_ink():
    image = rasterise([Stroke([centre(3, 5), centre(3, 20), centre(11, 8)], width=1)])
    assert last_ink_row(image) == 11
    assert rows_to_keep(image) == 12
    assert rows_to_keep(image, keep=5) == 5
    assert rows_to_keep(np.zeros((28, 28), np.uint8)) == 0  # nothing drawn: unconditional samples
    assert last_ink_row(np.zeros((28, 28), np.uint8)) == -1


@pytest.mark.parametrize("keep", [-1, 29, 2.5, True])
def test_bad_keep_is_one_clear_error(keep):
    with pytest.raises(ValueError, match="keep must be None"):
        rows_to_keep(np.zeros((28, 28), np.uint8), keep)


def test_bad_image_is_one_clear_error():
    with pytest.raises(ValueError, match="uint8 array"):
        rows_to_keep(np.zeros((28, 28)))


def test_known_mask_is_the_top_rows():
    known = known_mask(7)
    assert known.shape == (1, 1, 28, 28) and known.dtype == torch.bool
    assert known[..., :7, :].all() and not known[..., 7:, :].any()
    assert not known_mask(0).any() and known_mask(28).all()
    with pytest.raises(ValueError, match="keep_rows"):
        known_mask(29)


def test_prepare_quantises_the_kept_rows_and_zeroes_the_rest():
    image = np.zeros((28, 28), np.uint8)
    image[2, :] = np.arange(28) * 9  # greys 0..243
    image[20, 4] = 200  # ink below the kept part is dropped
    images, known = prepare(image, levels=256, keep_rows=5)
    assert images.shape == (1, 1, 28, 28) and images.dtype == torch.long
    assert torch.equal(images[0, 0, 2], torch.arange(28) * 9)
    assert not images[..., 5:, :].any() and torch.equal(known, known_mask(5))
    binary, _ = prepare(image, levels=2, keep_rows=5)
    assert torch.equal(binary[0, 0, 2], (torch.arange(28) * 9 >= 128).long())  # 2 levels: ink from 128 on


def test_display_values_and_pending_rows():
    assert display_values(torch.tensor([0, 1]), 2).tolist() == [0, 255]
    assert display_values(torch.tensor([0, 7, 255]), 256).tolist() == [0, 7, 255]
    grey = np.full((2, 3, 3), 9, np.uint8)
    pic = completions_image(grey, done_rows=1, scale=2, gap=1)
    assert pic.shape == (6, 2 * 3 * 2 + 1, 4)
    assert (pic[:2, :6, :3] == 9).all() and (pic[2:, :6] == PENDING).all()
    assert (pic[:, 6] == 255).all()  # the gap


# --------------------------------------------------------------------------- the pad, without a browser


def test_import_pixelcourse_does_not_import_the_widget():
    code = "import sys, pixelcourse; print('pixelcourse.widget' in sys.modules, 'ipycanvas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.fixture
def make_pad():
    """Builds DrawPads on two tiny 8x8 models (keyword arguments go to DrawPad) and closes them afterwards."""
    pytest.importorskip("ipycanvas")
    models = {"grey": tiny_model("mnist", height=8, width=8), "binary": tiny_model("mnist_binary", height=8, width=8)}
    pads = []

    def make(**kwargs):
        pads.append(widget.DrawPad(models, n_completions=3, method="naive", seed=0, **kwargs))
        return pads[-1]

    yield make
    for pad in pads:
        pad.close()


@pytest.fixture
def pad(make_pad):
    return make_pad()


def send(pad, event, **content):
    """An event as the browser sends it, through ipycanvas's own routing (the top layer handles it)."""
    pad.pad._canvases[-1]._handle_frontend_event(pad.pad, {"event": event, **content}, [])


def test_mouse_and_touch_strokes_are_recorded(pad):
    send(pad, "mouse_move", x=5.0, y=5.0)  # moving without pressing draws nothing
    assert not pad.image().any()
    send(pad, "mouse_down", x=5.0, y=15.0)
    send(pad, "mouse_move", x=75.0, y=15.0)
    send(pad, "mouse_up", x=75.0, y=15.0)
    send(pad, "mouse_move", x=75.0, y=75.0)
    assert len(pad.strokes) == 1 and pad.strokes[0].points == [(5.0, 15.0), (75.0, 15.0)]
    assert (pad.image()[1] == 255).all() and pad.keep.value == 3 and "Rows 0-2 will be kept" in pad.status.value
    send(pad, "touch_start", touches=[{"x": 35.0, "y": 35.0}])
    send(pad, "touch_move", touches=[{"x": 35.0, "y": 55.0}])
    send(pad, "touch_end", touches=[])
    assert len(pad.strokes) == 2 and pad.keep_rows() == 7
    assert (pad.image() == rasterise(pad.strokes, 8, 8)).all()


def test_eraser_tool_and_clear(pad):
    pad.draw([(5, 15), (75, 15)])
    pad.tool.value = "eraser"
    pad.draw([(5, 15), (75, 15)], width=3)
    assert not pad.image().any() and pad.keep.value == 0
    pad.tool.value = "pen"
    pad.draw([(5, 45), (75, 45)])
    pad.clear()
    assert not pad.image().any() and pad.strokes == [] and pad.keep.value == 0


def test_complete_keeps_the_drawn_rows_and_fills_the_rest(pad):
    pad.draw([(5, 15), (75, 15), (40, 35)])
    assert pad.keep_rows() == 5
    result = pad.complete() and pad.wait(60)
    drawing, completions = np.array(result["drawing"]), np.array(result["completions"])
    assert result["run"] == 1 and result["keep_rows"] == 5 and result["levels"] == 256
    assert (drawing == pad.image() * (np.arange(8) < 5)[:, None]).all()
    assert completions.shape == (3, 8, 8)
    assert (completions[:, :5] == drawing[None, :5]).all()
    assert completions.min() >= 0 and completions.max() < 256
    assert len({c[5:].tobytes() for c in completions}) > 1  # the three completions differ below the kept rows
    assert "Done in" in pad.status.value and not pad.complete_button.disabled
    assert (pad._grey == completions).all() and pad._done_rows == 8  # what the canvas shows


def test_manual_keep_and_binary_model(pad):
    pad.draw([(5, 15), (75, 15), (40, 65)])
    pad.auto_keep.value = False
    pad.keep.value = 2
    pad.model_choice.value = "binary"
    result = pad.complete() and pad.wait(60)
    completions = np.array(result["completions"])
    assert result["keep_rows"] == 2 and result["levels"] == 2
    assert (completions[:, :2] == (pad.image()[None, :2] >= 128)).all() and completions.max() <= 1


def test_empty_pad_gives_unconditional_samples(pad):
    result = pad.complete() and pad.wait(60)
    assert result["keep_rows"] == 0 and "from scratch" in pad.status.value


def test_a_second_click_while_sampling_is_ignored_and_a_new_drawing_works(make_pad):
    release, started = threading.Event(), threading.Event()
    real_complete = complete

    def held_complete(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real_complete(*args, **kwargs)

    pad = make_pad(complete=held_complete)
    pad.draw([(5, 15), (75, 15)])
    worker = pad.complete()
    assert started.wait(30) and pad.complete_button.disabled
    assert pad.complete() is None  # ignored: the button is disabled in the browser, and this guards the rest
    pad.complete_button.click()
    pad.clear()  # drawing goes on while sampling
    pad.draw([(5, 45), (75, 45)])
    release.set()
    worker.join(60)
    assert pad.runs == 1 and pad.last_result["keep_rows"] == 3  # the first drawing: row 1 and its soft edge
    second = pad.complete() and pad.wait(60)
    assert second["run"] == 2 and second["keep_rows"] == 6  # the new drawing: row 4 and its soft edge
    assert (np.array(second["completions"])[:, :5] == np.array(second["drawing"])[None, :5]).all()


def test_models_are_checked():
    pytest.importorskip("ipycanvas")
    with pytest.raises(ValueError, match="unconditional grey model"):
        widget.DrawPad({"fashion": tiny_model("fashion_mnist")})
    with pytest.raises(ValueError, match="share the image size"):
        widget.DrawPad({"a": tiny_model("mnist"), "b": tiny_model("mnist", height=8, width=8)})
    with pytest.raises(TypeError, match="non-empty dict"):
        widget.DrawPad({})
    with pytest.raises(ValueError, match="n_completions"):
        widget.DrawPad(tiny_model("mnist"), n_completions=0)
