"""Your parts (pixelcourse.mine): %%mine saves an exercise cell, use() loads it checked, the reference fills in."""

from __future__ import annotations

import pytest
import torch

import pixelcourse
from pixelcourse import mine
from pixelcourse.masks import masked_conv2d as reference_conv

RIGHT_CONV = '''
def masked_conv2d(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    mask = torch.zeros_like(weight)
    mask[:, :, : kh // 2] = 1
    mask[:, :, kh // 2, : kw // 2] = 1
    if mask_type == "B":
        mask[:, :, kh // 2, kw // 2] = 1
    return F.conv2d(x, weight * mask, bias, padding=(kh // 2, kw // 2))
'''
STUB_CONV = '''
def masked_conv2d(x, weight, bias, mask_type):
    raise NotImplementedError("Exercise: replace this line with your code.")
'''
UNMASKED_CONV = '''
def masked_conv2d(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))
'''
LAYER = '''
class MyMaskedConv2d(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size)
        self.mask_type = mask_type

    def forward(self, x):
        return masked_conv2d(x, self.weight, self.bias, self.mask_type)
'''


@pytest.fixture(autouse=True)
def parts(tmp_path, monkeypatch):
    """Every test has its own empty parts folder, and forgets what an earlier test loaded."""
    monkeypatch.setenv("PIXELCOURSE_PARTS_DIR", str(tmp_path / "my_pixelcnn"))
    monkeypatch.setattr(mine, "_loaded", {})
    return tmp_path / "my_pixelcnn"


def test_the_folder_is_beside_the_notebook_unless_moved(monkeypatch, tmp_path):
    monkeypatch.delenv("PIXELCOURSE_PARTS_DIR")
    monkeypatch.chdir(tmp_path)
    assert mine.parts_dir() == tmp_path / "my_pixelcnn"
    assert mine.run_path() == tmp_path / "my_pixelcnn" / "my_pixelcnn.pt"


def test_save_writes_one_file_per_part_with_the_parts_it_needs(parts):
    paths = mine.save(LAYER)
    assert paths == [parts / "MyMaskedConv2d.py"]
    text = paths[0].read_text()
    assert "from notebook 02" in text
    assert 'masked_conv2d = use("masked_conv2d", quiet=True)' in text  # an earlier part, resolved when loaded
    assert text.rstrip().endswith("return masked_conv2d(x, self.weight, self.bias, self.mask_type)")
    assert mine.save("def helper():\n    return 1\n") == []  # nothing the course asks for


def test_use_prefers_yours_once_its_check_passes(parts, capsys):
    mine.save(RIGHT_CONV)
    mine_conv = mine.use("masked_conv2d")
    assert mine_conv is not reference_conv and mine_conv.__name__ == "masked_conv2d"
    assert capsys.readouterr().out == "masked_conv2d: yours, from notebook 01 (its check passes)\n"
    x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    assert torch.allclose(mine_conv(x, w, None, "A"), reference_conv(x, w, None, "A"), atol=1e-6)


@pytest.mark.parametrize("source, words", [
    (None, "yours is not saved yet (run its %%mine cell in notebook 01)"),
    (STUB_CONV, "⏳ The masked convolution: not implemented yet"),
    (UNMASKED_CONV, "❌ The masked convolution: wrong — "),
    ("def masked_conv2d(x, weight, bias, mask_type):\n    return undefined_name\nraise_here = 1 / 0\n", "fails to load (ZeroDivisionError"),
])
def test_the_reference_fills_in_and_says_why(parts, capsys, source, words):
    if source is not None:
        mine.save(source)
    assert mine.use("masked_conv2d") is reference_conv
    line = capsys.readouterr().out
    assert line.startswith("masked_conv2d: the package's reference (pixelcourse.masks.masked_conv2d)")
    assert words in line


def test_a_part_gets_the_earlier_parts_it_needs_checked(parts, capsys):
    mine.save(UNMASKED_CONV)  # wrong: the layer built on it must fall back to the reference convolution
    mine.save(LAYER)
    layer_class = mine.use("MyMaskedConv2d")
    assert capsys.readouterr().out == "MyMaskedConv2d: yours, from notebook 02\n"
    layer = layer_class(1, 1, 3, "A")
    x = torch.randn(1, 1, 5, 5, requires_grad=True)
    layer(x)[0, 0, 2, 2].backward()
    assert x.grad[0, 0, 2, 2] == 0 and x.grad[0, 0, 3:].abs().sum() == 0  # causal: the reference took over


def test_a_changed_file_is_loaded_again(parts, capsys):
    mine.save(STUB_CONV)
    assert mine.use("masked_conv2d", quiet=True) is reference_conv
    path = parts / "masked_conv2d.py"
    stamp = path.stat().st_mtime
    mine.save(RIGHT_CONV)
    import os
    os.utime(path, (stamp + 5, stamp + 5))  # a later time, even on a coarse clock
    assert mine.use("masked_conv2d", quiet=True) is not reference_conv
    assert capsys.readouterr().out == ""  # quiet


def test_unknown_part_is_one_clear_error():
    with pytest.raises(KeyError, match="No part named 'MyThing'; the parts are masked_conv2d"):
        mine.use("MyThing")


def test_the_cell_magic_runs_the_cell_and_saves_it_only_when_it_ran(parts):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext pixelcourse.mine")
    shell.run_cell("import torch\nimport torch.nn.functional as F")
    shell.run_cell("%%mine\n" + RIGHT_CONV)
    assert "masked_conv2d" in shell.user_ns
    assert (parts / "masked_conv2d.py").exists()
    (parts / "masked_conv2d.py").unlink()
    shell.run_cell("%%mine\n" + RIGHT_CONV + "\nraise ValueError('the cell fails')\n")
    assert not (parts / "masked_conv2d.py").exists()


TIMED_CONV = '''
def masked_conv2d(x, weight, bias, mask_type):
    started = time.perf_counter()  # reads modules and functions the notebook imported earlier
    kh, kw = weight.shape[-2:]
    mask = torch.zeros_like(weight)
    mask[:, :, : kh // 2] = 1
    mask[:, :, kh // 2, : kw // 2] = 1
    if mask_type == "B":
        mask[:, :, kh // 2, kw // 2] = 1
    assert isinstance(Path("."), PurePath) and np.ndim(0) == 0 and started <= clock()
    return conv(x, weight * mask, bias, padding=(kh // 2, kw // 2))
'''


def test_a_part_keeps_the_imports_the_notebook_made_before_it(parts, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext pixelcourse.mine")
    shell.run_cell("import time\nimport numpy as np\nfrom pathlib import Path, PurePath\n"
                   "from torch.nn.functional import conv2d as conv\nfrom time import perf_counter as clock\n"
                   "weight = 3  # a notebook value, not an import: never written into the file",
                   store_history=True)  # as a notebook's cells are
    shell.run_cell("%%mine\n" + TIMED_CONV)
    text = (parts / "masked_conv2d.py").read_text()
    for line in ("import time", "import numpy as np", "from pathlib import Path", "from pathlib import PurePath",
                 "from torch.nn.functional import conv2d as conv", "from time import perf_counter as clock"):
        assert line + "\n" in text
    assert "weight =" not in text and "import weight" not in text
    shell.run_cell("del time, np, Path, PurePath, conv, clock")  # the file stands on its own
    mine.use("masked_conv2d")
    assert "masked_conv2d: yours, from notebook 01 (its check passes)" in capsys.readouterr().out


def test_load_model_rebuilds_your_class_from_a_checkpoint(parts, tmp_path):
    torch.manual_seed(0)
    config = pixelcourse.preset_config("mnist_binary", hidden=8, layers=1, height=6, width=6)
    model = pixelcourse.PixelCNN(config)
    path = pixelcourse.save_checkpoint(model, mine.run_path(), metrics={"test_bpd": 0.5})
    again = mine.load_model(pixelcourse.PixelCNN, path)
    assert again.config == config and again.metrics == {"test_bpd": 0.5} and not again.training
    x = torch.randint(0, 2, (2, 1, 6, 6))
    assert torch.equal(again(x), model(x))
    with pytest.raises(ValueError, match="another architecture than GatedPixelCNN"):
        mine.load_model(pixelcourse.GatedPixelCNN, path)
