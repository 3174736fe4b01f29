"""One fresh kernel in a box, running one cell at a time under a time limit (nbclient).

``Kernel.run(source, seconds)`` returns a ``Ran``: ok, error (the exception's first line), timed out
(the kernel was interrupted) or dead (the code ended the kernel). Outputs are capped, so a submission
that prints without end cannot fill the grader's memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from .sandbox import Box

MIME = "application/vnd.pixelcourse.grade+json"  # the grader's own results: machine-readable, never text
TIMEOUT = "PixelcourseGradeTimeout"
MAX_OUTPUTS, MAX_TEXT = 100, 10_000  # per cell
# How long to wait for a cell's last outputs once its reply came: nbclient's 4 s, but only 1 s after a
# timeout, when the interrupted cell may never end (a submission that ignores the interrupt).
IOPUB_WAIT, IOPUB_WAIT_AFTER_TIMEOUT = 4, 1


@dataclass
class Ran:
    """What one cell did."""

    state: str  # "ok", "error", "timeout" or "dead"
    error: str = ""  # "ValueError: boom" when state is "error"
    outputs: list = field(default_factory=list)


class _Client(NotebookClient):
    """nbclient's client with a cap on what a cell may print (the grader's own results always kept)."""

    def output(self, outs, msg, display_id, cell_index):
        data = msg["content"].get("data") or {}
        if MIME not in data:
            if len(outs) >= MAX_OUTPUTS:
                return None
            if isinstance(msg["content"].get("text"), str):
                msg["content"]["text"] = msg["content"]["text"][:MAX_TEXT]
        return super().output(outs, msg, display_id, cell_index)

    async def _async_handle_timeout(self, timeout, cell=None):
        self.iopub_timeout = IOPUB_WAIT_AFTER_TIMEOUT
        return await super()._async_handle_timeout(timeout, cell)


class Kernel:
    """A fresh kernel of the course's Python in ``box`` (sealed if the box is)."""

    def __init__(self, box: Box):
        self.box = box
        self.manager = None
        self.client: _Client | None = None
        self._reply: dict = {}

    async def start(self, seconds: float) -> None:
        """Start the kernel; raises RuntimeError with the reason if it does not answer within ``seconds``."""
        self.manager = self.box.kernel_manager()
        self.client = _Client(nbformat.v4.new_notebook(), km=self.manager, allow_errors=True,
                              interrupt_on_timeout=True, startup_timeout=max(1, math.ceil(seconds)),
                              error_on_timeout={"ename": TIMEOUT, "evalue": "", "traceback": []})
        self.client.on_cell_executed = self._keep_reply
        log = self.box.root / "kernel.log"  # the kernel's own stdout and stderr: kept off the teacher's terminal
        try:
            with open(log, "ab") as output:
                await self.client.async_start_new_kernel(env=self.box.env(), cwd=str(self.box.work),
                                                         stdout=output, stderr=output)
            await self.client.async_start_new_kernel_client()
        except Exception as err:
            await self.stop()
            said = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            why = said[-1] if said else f"{type(err).__name__}: {_first_line(str(err))}"
            raise RuntimeError(f"the kernel did not start ({why[:160]})") from None

    def _keep_reply(self, cell, cell_index, execute_reply) -> None:
        self._reply = execute_reply or {}

    async def run(self, source: str, seconds: float, history: bool = True) -> Ran:
        """Run ``source`` as one cell, for at most ``seconds``."""
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells = [cell]
        self.client.timeout = max(1, math.ceil(seconds))
        self.client.iopub_timeout = IOPUB_WAIT
        self._reply = {}
        try:
            await self.client.async_execute_cell(cell, 0, store_history=history)
        except DeadKernelError:
            return Ran("dead")
        content = self._reply.get("content", {})
        if content.get("ename") == TIMEOUT:
            return Ran("timeout", outputs=cell.outputs)
        errors = [out for out in cell.outputs if out.output_type == "error"]  # %%mine reports errors as outputs
        if content.get("status") == "error" or errors:
            name, value = (content.get("ename"), content.get("evalue")) if content.get("status") == "error" \
                else (errors[0].ename, errors[0].evalue)
            return Ran("error", error=_error_text(name, value), outputs=cell.outputs)
        return Ran("ok", outputs=cell.outputs)

    async def alive(self) -> bool:
        """True if the kernel answers a trivial cell within a few seconds (after an interrupt)."""
        return (await self.run("pass", 3, history=False)).state == "ok"

    async def stop(self) -> None:
        """Stop the kernel at once, with everything it started."""
        if self.client is not None and self.client.kc is not None:
            self.client.kc.stop_channels()
        if self.manager is not None:
            try:
                if self.manager.has_kernel:
                    await self.manager.shutdown_kernel(now=True)
            except Exception:  # already gone: nothing left to stop
                pass
        self.manager = self.client = None


def results(outputs: list, nonce: str) -> list[dict]:
    """The grader's results among a cell's outputs: only those that carry this run's nonce."""
    found = []
    for out in outputs:
        data = out.get("data", {}).get(MIME) if out.get("output_type") == "display_data" else None
        if isinstance(data, dict) and data.get("nonce") == nonce:
            found.append(data)
    return found


def _error_text(name: str | None, value: str | None) -> str:
    value = re.sub(r"\((?:[^()]*\.py|<[^>]*>), line (\d+)\)", r"(line \1)", _first_line(value or ""))
    return f"{name or 'Error'}: {value}"[:200] if value else (name or "Error")


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""
