"""The classroom on JupyterHub, for real: the course's hub config, its proxy, two students, their kernels.

One real JupyterHub (``classroom/jupyterhub_config.py``) runs for this file on free ports of 127.0.0.1, with
its real proxy and a state folder of its own. Two students log in through the login form; each gets their
own copy of the notebooks; alice solves two exercises of notebook 01 and bob runs it unsolved, through their
kernels' websockets as JupyterLab does. Then the grader reads their files. The hub is stopped by the fixture,
and nothing it started may be left running.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from classroom.course_homes import STUDENT_FOLDER, ClassroomError, check_username, copy_course, course_environment  # noqa: E402
from classroom.local_hub import CONFIG, LocalHub  # noqa: E402
from classroom.student import ClassroomClientError, Student  # noqa: E402

PASSWORD = "pixels-for-all"
NOTEBOOK = f"{STUDENT_FOLDER}/01_masked_convolutions.ipynb"
COURSE = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cells(notebook: dict) -> list[str]:
    return [c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in notebook["cells"]]


# --- the copy hook and the settings, without a hub ------------------------------------------------------
def test_first_login_copies_the_notebooks_and_later_logins_keep_the_students_work(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (course / name).write_text(f'{{"name": "{name}"}}')
    (course / "my_pixelcnn").mkdir()  # the teacher's own parts stay the teacher's
    (course / "my_pixelcnn" / "masked_conv2d.py").write_text("# teacher's")
    home = tmp_path / "home"
    assert copy_course(home, course) == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(p.name for p in (home / STUDENT_FOLDER).iterdir()) == ["01_a.ipynb", "02_b.ipynb"]

    (home / STUDENT_FOLDER / "01_a.ipynb").write_text("my work")
    (course / "03_c.ipynb").write_text("{}")  # the course gains a notebook
    assert copy_course(home, course) == ["03_c.ipynb"]
    assert (home / STUDENT_FOLDER / "01_a.ipynb").read_text() == "my work"
    assert copy_course(home, course) == []
    assert not [p for p in (home / STUDENT_FOLDER).iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_the_copy_belongs_to_the_student_when_the_hub_copies_as_root(tmp_path):
    copy_course(tmp_path / "home", REPO / "notebooks", owner=(4321, 4321))
    made = [tmp_path / "home", tmp_path / "home" / STUDENT_FOLDER, *(tmp_path / "home" / STUDENT_FOLDER).iterdir()]
    assert {(p.stat().st_uid, p.stat().st_gid) for p in made} == {(4321, 4321)}


def test_bad_names_and_missing_folders_get_one_clear_error(tmp_path):
    for name in ("../bob", ".hidden", "Alice", "a/b", ""):
        with pytest.raises(ClassroomError, match="cannot name a home folder"):
            check_username(name)
    assert check_username("alice.b-2") == "alice.b-2"
    with pytest.raises(ClassroomError, match="no learner notebooks"):
        copy_course(tmp_path / "home", tmp_path)
    with pytest.raises(ClassroomError, match="shared datasets folder .* does not exist: run `bash tools/setup.sh`"):
        course_environment(tmp_path / "nowhere", tmp_path)


def test_the_hub_refuses_to_start_without_a_class_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PIXELCOURSE_CLASS_PASSWORD"}
    env["PIXELCOURSE_CLASSROOM_DIR"] = str(tmp_path)
    done = subprocess.run([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert "set PIXELCOURSE_CLASS_PASSWORD" in done.stderr


# --- a real hub, its proxy and two students -------------------------------------------------------------
@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("classroom")
    course_before = digest(REPO / "notebooks")
    hub = LocalHub(state, PASSWORD).start()
    students = {name: Student(hub.url, name, PASSWORD) for name in ("alice", "bob")}
    try:
        with ThreadPoolExecutor(2) as pool:  # both log in at once, as a class does
            list(pool.map(lambda s: (s.log_in(), s.start_server()), students.values()))
        yield hub, students
    except BaseException:
        print(hub.log_tail(80))
        raise
    finally:
        for student in students.values():
            student.close()
        left = hub.stop()
        assert not left, f"the hub left processes running: {left}"
        assert digest(REPO / "notebooks") == course_before, "the course's own notebooks were changed"


def test_each_student_gets_their_own_copy_of_the_notebooks(hub):
    hub, students = hub
    for name, student in students.items():
        assert student.list_folder(STUDENT_FOLDER) == COURSE
        home = hub.state_dir / "homes" / name
        assert digest(home / STUDENT_FOLDER) == {n: digest(REPO / "notebooks")[n] for n in COURSE}
    with pytest.raises(ClassroomClientError, match="could not log in"):
        Student(hub.url, "mallory", "not-the-password").log_in()


def test_alice_solves_notebook_01_in_her_kernel_and_bob_runs_it_unsolved(hub):
    hub, students = hub
    alice, bob = students["alice"], students["bob"]
    learner = alice.read_notebook(NOTEBOOK)
    source, solved = cells(learner), cells(json.loads((REPO / "solutions" / "01_masked_convolutions.ipynb").read_text()))
    stored = {i: "".join(o.get("text", "")) for i, c in enumerate(learner["cells"]) for o in c.get("outputs", [])}

    kernel = alice.start_kernel(STUDENT_FOLDER)
    versions = alice.run(kernel, source[2])
    assert "pixelcourse 0.1.0" in versions.stdout and versions.error is None
    where = alice.run(kernel, source[3] + "\nimport os\nprint(os.getcwd(), pixelcourse.DATA_DIR, pixelcourse.CHECKPOINT_DIR)")
    home = hub.state_dir / "homes" / "alice"
    assert where.stdout.split() == [str(home / STUDENT_FOLDER), str((REPO / "data").resolve()),
                                    str((REPO / "data" / "checkpoints").resolve())]
    assert alice.run(kernel, source[7]).stdout == stored[7] == "16 images, total probability 1.000000\n"
    for exercise, check in ((9, 10), (15, 16)):  # the masks by hand; the masked convolution (a %%mine cell)
        assert alice.run(kernel, solved[exercise]).error is None
        assert alice.run(kernel, source[check]).stdout == stored[check]
        assert stored[check].startswith("✅")
        learner["cells"][exercise]["source"] = solved[exercise]
    alice.save_notebook(NOTEBOOK, learner)

    kernel = bob.start_kernel(STUDENT_FOLDER)
    for i in (2, 3, 9):
        assert bob.run(kernel, source[i]).error is None
    assert bob.run(kernel, source[10]).stdout == "⏳ Masks A and B by hand: not implemented yet\n"

    course = (REPO / "notebooks" / "01_masked_convolutions.ipynb").read_bytes()
    alice_home, bob_home = (hub.state_dir / "homes" / name / STUDENT_FOLDER for name in ("alice", "bob"))
    assert "mask[centre, :centre] = 1" in cells(json.loads((alice_home / "01_masked_convolutions.ipynb").read_text()))[9]
    assert (bob_home / "01_masked_convolutions.ipynb").read_bytes() == course
    assert (alice_home / "my_pixelcnn" / "masked_conv2d.py").exists()  # her part, in her copy only
    assert not (bob_home / "my_pixelcnn").exists()


def test_a_later_login_keeps_alices_work(hub):
    hub, students = hub
    alice = students["alice"]
    alice.stop_server()
    alice.start_server()
    assert "mask[centre, :centre] = 1" in cells(alice.read_notebook(NOTEBOOK))[9]
    assert alice.list_folder(f"{STUDENT_FOLDER}/my_pixelcnn") == ["masked_conv2d.py"]


def test_the_grader_grades_both_students(hub, tmp_path):
    hub, _ = hub
    notebooks = [hub.state_dir / "homes" / name / NOTEBOOK for name in ("alice", "bob")]
    done = subprocess.run([sys.executable, "-m", "pixelcourse.grade", *map(str, notebooks), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=hub.state_dir / "homes")
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "grades.csv", newline="") as report:
        rows = {row["submission"]: row for row in csv.DictReader(report)}
    assert sorted(rows) == [f"alice/{NOTEBOOK}", f"bob/{NOTEBOOK}"]  # one row per student, named by their home
    alice, bob = rows[f"alice/{NOTEBOOK}"], rows[f"bob/{NOTEBOOK}"]
    assert (alice["01 causal_mask"], alice["01 masked_conv2d"]) == ("pass", "pass")
    assert (bob["01 causal_mask"], bob["01 masked_conv2d"]) == ("not done", "not done")
    assert alice["02 MyResidualBlock"] == bob["02 MyResidualBlock"] == ""  # notebook 02 was not handed in
