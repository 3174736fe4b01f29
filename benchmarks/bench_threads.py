"""What a busy core costs a notebook's training, with torch's thread count and with the course's.

    python benchmarks/bench_threads.py            # the machine as it is
    python benchmarks/bench_threads.py --busy 1   # and with one core kept busy by another program

Each case runs in a fresh Jupyter kernel, started the way JupyterLab starts one (a session of its
own), and trains notebook 02's small PixelCNN (12x16 binary images, 12 residual blocks of 16
channels, batch 32) for --steps steps in one cell. "torch's default" fixes the thread count to
torch's choice (one per core) with PIXELCOURSE_THREADS; "the course's choice" lets
pixelcourse.threads give torch the cores that other programs leave free. --busy N starts N
programs that spin on a core each, each in a session of its own like a browser's, for the
length of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from jupyter_client.manager import start_new_kernel

from pixelcourse.machine import cpu_name  # the CPU's model name as lscpu prints it

REPO = Path(__file__).resolve().parent.parent

CELL = """
import json, time, torch
import pixelcourse
from pixelcourse.models import PixelCNNConfig, model_from_config
torch.manual_seed(0)
model = model_from_config(PixelCNNConfig(height=12, width=16, levels=2, hidden=16, layers=12))
optimizer = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.randint(0, 2, (32, 1, 12, 16))
"""

STEPS = """
times = []
for _ in range({steps}):
    start = time.perf_counter()
    loss = -model.log_prob(model(x), x).mean()
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({{"threads": torch.get_num_threads(), "median_ms": 1000 * times[len(times) // 2],
                  "others": pixelcourse.threads.others_busy()}}))
"""


def run_case(env_extra: dict, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PIXELCOURSE_THREADS")}
    env.update(env_extra, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(REPO))
    try:
        out = []

        def keep(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))

        client.execute_interactive(CELL, output_hook=keep, timeout=300)
        client.execute_interactive(STEPS.format(steps=steps), output_hook=keep, timeout=1800)
        return json.loads(out[-1])
    finally:
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=0, help="programs that keep a core busy during the run")
    parser.add_argument("--steps", type=int, default=20, help="training steps timed in each case")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                for _ in range(args.busy)]
    try:
        print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; torch {torch.__version__}; "
              f"{args.busy} busy program(s) started; {args.steps} steps of notebook 02's small PixelCNN per case")
        default = torch.get_num_threads()
        for name, env in [("torch's default", {"PIXELCOURSE_THREADS": str(default)}), ("the course's choice", {})]:
            result = run_case(env, args.steps)
            print(f"{name:>20}: {result['threads']} thread(s), median step {result['median_ms']:8.1f} ms "
                  f"(other programs used {result['others']:.2f} cores at the end)", flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


if __name__ == "__main__":
    main()
