"""The command line of ``python -m pixelcourse.data``: fetch datasets ahead of time, or list the copies.

    python -m pixelcourse.data fetch all      # or: fetch mnist / fashion_mnist / cifar10
    python -m pixelcourse.data list
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .registry import DATASETS, DatasetUnavailableError
from .sources import default_sources
from .store import SourcesFor, data_root, fetch, status


def main(argv: Sequence[str] | None = None, root: str | Path | None = None,
         sources: SourcesFor = default_sources) -> int:
    """Run the command in ``argv`` (``sys.argv[1:]`` by default) on the data folder ``root``.

    ``root`` defaults to ``settings.DATA_DIR``; ``sources`` gives the sources to try for a
    dataset name. Returns the exit status: 0 done, 1 a dataset is unavailable, 130 interrupted.
    """
    parser = argparse.ArgumentParser(prog="python -m pixelcourse.data",
                                     description="Fetch and verify the course datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="fetch and verify datasets ahead of time")
    fetch_parser.add_argument("name", choices=("all", *DATASETS))
    commands.add_parser("list", help="show which verified copies are present")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(f"data folder: {data_root(root)}")
        for (name, split), state in status(root).items():
            print(f"  {name}/{split}: {state}")
        return 0
    try:
        fetch(args.name, root, sources)
    except DatasetUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: verified copies kept, nothing half-written left", file=sys.stderr)
        return 130
    return 0
