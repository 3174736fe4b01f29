"""Where a submission runs: a temporary folder that is deleted afterwards, and the kernel started in it.

Every submission gets its own folder (``Box``): the kernel's working directory, HOME, TMPDIR, the parts
folder of ``%%mine`` (``PIXELCOURSE_PARTS_DIR``), the data and checkpoint folders, and the caches of
matplotlib, IPython and Jupyter all lie inside it. Where Linux namespaces can be used (``unshare``, as root
or as a user), the kernel is also sealed (``seal.py``): every other mount is read-only, it has no network
and its own process tree, and it holds no capabilities; when it ends, everything it started ends with it.
Where they cannot, the folders are all there is, and ``isolation()`` says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEAL = Path(__file__).with_name("seal.py")
PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent  # the folder that holds pixelcourse/
KERNEL = "pixelcourse-grade"
PASSED_ON = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PIXELCOURSE_QUICK")  # the only variables a kernel inherits


@dataclass(frozen=True)
class Isolation:
    """How submissions are kept apart from the machine: sealed (namespaces) or folders only, and why."""

    sealed: bool
    detail: str


SEALED = ("sealed: the file system is read-only except the submission's temporary folder, "
          "no network, its own process tree, no capabilities")
_probed: Isolation | None = None


def unshare_command() -> list[str]:
    """The ``unshare`` prefix: new mount, PID and network namespaces (and a user namespace when not root)."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc"]


def isolation() -> Isolation:
    """Whether kernels can be sealed on this machine (tried once per process, in a few milliseconds)."""
    global _probed
    if _probed is None:
        _probed = _probe()
    return _probed


def _probe() -> Isolation:
    folders = "folders only: a submission's own files stay in its temporary folder; absolute paths are not guarded"
    if not sys.platform.startswith("linux"):
        return Isolation(False, f"{folders} (sealing needs Linux namespaces)")
    missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
    if missing:
        return Isolation(False, f"{folders} ({', '.join(missing)} not found: install util-linux)")
    box = tempfile.mkdtemp(prefix="pixelcourse-grade-probe-")
    try:
        done = subprocess.run([*unshare_command(), sys.executable, str(SEAL), box, "--", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Isolation(False, f"{folders} (unshare failed: {err})")
    finally:
        shutil.rmtree(box, ignore_errors=True)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return Isolation(False, f"{folders} (namespaces not permitted here: {why})")
    return Isolation(True, SEALED)


class Box:
    """The temporary folder of one submission; ``remove()`` deletes it with everything written there."""

    def __init__(self, sealed: bool):
        self.sealed = sealed
        self.root = Path(tempfile.mkdtemp(prefix="pixelcourse-grade-")).resolve()
        self.work = self.root / "work"  # the kernel's working directory, as a notebook's folder
        for name in ("work", "home", "tmp", "data", "checkpoints", "cache", "kernels"):
            (self.root / name).mkdir()

    def env(self) -> dict[str, str]:
        """The kernel's whole environment: a few variables passed on, every folder inside the box."""
        env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
        folders = {
            "HOME": "home", "TMPDIR": "tmp", "PIXELCOURSE_PARTS_DIR": "work/my_pixelcnn",
            "PIXELCOURSE_DATA": "data", "PIXELCOURSE_CHECKPOINTS": "checkpoints", "MPLCONFIGDIR": "cache/matplotlib",
            "IPYTHONDIR": "cache/ipython", "JUPYTER_CONFIG_DIR": "cache/jupyter", "JUPYTER_DATA_DIR": "cache/jupyter",
            "JUPYTER_RUNTIME_DIR": "cache/jupyter/runtime", "XDG_CACHE_HOME": "cache", "XDG_CONFIG_HOME": "cache",
            "TORCH_HOME": "cache/torch",
        }
        env.update({name: str(self.root / sub) for name, sub in folders.items()})
        # The grader's own import path, so the kernel runs this course's package with the course's Python.
        here = os.getcwd()  # the teacher's folder (on the path of ``python -m``) must not shadow a module
        paths = [str(PACKAGE_PARENT)] + [p for p in sys.path if p and os.path.isdir(p) and p not in (here, str(PACKAGE_PARENT))]
        env.update(PYTHONPATH=os.pathsep.join(paths), MPLBACKEND="agg", OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1")
        return env

    def kernel_manager(self):
        """A kernel manager for a kernel of this Python, sealed if the box is, talking over sockets in the box."""
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        argv = [*unshare_command(), sys.executable, str(SEAL), str(self.root), "--", *kernel] if self.sealed else kernel
        spec = self.root / "kernels" / KERNEL
        spec.mkdir(exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
        manager = AsyncKernelManager(kernel_name=KERNEL, transport="ipc", ip=str(self.root / "zmq"),
                                     kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
        manager.connection_file = str(self.root / "connection.json")
        return manager

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
