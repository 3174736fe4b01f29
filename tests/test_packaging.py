"""The install files agree with each other, and CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name
CONDA_ONLY = {"python", "pip", "nodejs"}  # tools conda needs that pip does not list


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip())
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_specs = dict(_split(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"])
    conda_specs = {}
    in_deps = False
    for line in (REPO / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and line.strip().startswith("- "):
            name, version = _split(line.strip()[2:])
            if name not in CONDA_ONLY:
                conda_specs[CONDA_NAMES.get(name, name)] = version
        elif in_deps and line and not line.startswith(" "):
            in_deps = False
    assert conda_specs == pip_specs


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert command in readme, f"README must show the exact test command CI runs: {command}"
