# The course as a classroom on one machine: JupyterHub, one Jupyter server per student.
#
#   PIXELCOURSE_CLASS_PASSWORD=... .venv/bin/jupyterhub -f classroom/jupyterhub_config.py
#
# Students open http://127.0.0.1:8000 (or the address the hub is published under), log in with any
# username and the class password, and land in their own copy of notebook 01. On the first login
# the hub copies the learner notebooks into <classroom>/homes/<username>/notebooks/; later logins keep
# their work (course_homes.py). Datasets and checkpoints stay in one shared folder, which every
# student's kernel finds through PIXELCOURSE_DATA and PIXELCOURSE_CHECKPOINTS.
#
# Settings (environment variables):
#   PIXELCOURSE_CLASS_PASSWORD   the students' shared password, 8 characters or more (required)
#   PIXELCOURSE_CLASSROOM_DIR    the hub's state and the students' homes (default: classroom/state/)
#   PIXELCOURSE_DATA, PIXELCOURSE_CHECKPOINTS   the shared folders (default: the course's data/)
# Anything else is a JupyterHub option on the command line, e.g. --JupyterHub.bind_url=http://0.0.0.0:8000
# to let other machines in (the default listens on 127.0.0.1 only).
import os
import pwd
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the course folder, for `classroom`
from classroom.course_homes import (  # noqa: E402
    REPO_DIR,
    STUDENT_FOLDER,
    USERNAME_PATTERN,
    ClassroomError,
    check_username,
    copy_course,
    course_environment,
    course_folders,
)

c = get_config()  # noqa: F821  (defined by JupyterHub when it reads this file)

state = Path(os.environ.get("PIXELCOURSE_CLASSROOM_DIR") or REPO_DIR / "classroom" / "state").resolve()
password = os.environ.get("PIXELCOURSE_CLASS_PASSWORD", "")
if len(password) < 8:
    sys.exit("error: set PIXELCOURSE_CLASS_PASSWORD to the students' password (8 characters or more), "
             "e.g. PIXELCOURSE_CLASS_PASSWORD=$(openssl rand -base64 9) jupyterhub -f classroom/jupyterhub_config.py")
try:
    environment = course_environment(*course_folders())
except ClassroomError as error:
    sys.exit(f"error: {error}")

# --- Where it listens: this machine only, unless the command line says otherwise --------------------
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = 8081
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.Spawner.ip = "127.0.0.1"

# --- The hub's own files --------------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
# The proxy is installed into the course folder by `bash tools/setup.sh --dev`; one on PATH also does.
proxy = REPO_DIR / "classroom" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
if proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(proxy)]
elif not shutil.which("configurable-http-proxy"):
    sys.exit("error: JupyterHub's proxy (configurable-http-proxy) is missing: run `bash tools/setup.sh --dev`, "
             "which installs it into classroom/proxy/")
state.mkdir(parents=True, exist_ok=True)

# --- Who logs in: one shared password for the class ---------------------------------------------------
# A real class: an identity provider (oauthenticator: GitHub, Google, a university's OpenID Connect),
# LTI from the learning platform (ltiauthenticator), or accounts the hub keeps (jupyterhub-nativeauthenticator).
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = password
c.Authenticator.allow_all = True
c.Authenticator.username_pattern = USERNAME_PATTERN  # usernames become folder names

# --- Each student's server: a Jupyter server of this environment, in the student's home ---------------
# SimpleLocalProcessSpawner runs every server as the hub's own user and needs no accounts on the machine;
# it keeps students apart by folder only, which suits a trusted class on one machine. Separation by the
# system: "localprocess" (one account per student; the hub runs as root and copies into their home),
# DockerSpawner, or KubeSpawner (Zero to JupyterHub: see README).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]  # the course's environment
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = f"/lab/tree/{STUDENT_FOLDER}/01_masked_convolutions.ipynb"
c.Spawner.environment = environment
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "CONDA_PREFIX", "OMP_NUM_THREADS", "PIXELCOURSE_QUICK"]
c.Spawner.start_timeout = 120  # a busy machine imports torch slowly
c.Spawner.http_timeout = 120
if os.geteuid() == 0:
    # The servers run as the hub's user; a Jupyter server refuses root unless told that this is meant.
    c.Spawner.args = ["--ServerApp.allow_root=True"]


def give_course(spawner) -> None:
    """The pre-spawn hook: the student's own copy of the notebooks, made on the first login."""
    name = check_username(spawner.user.name)
    if hasattr(spawner, "home_dir_template"):  # SimpleLocalProcessSpawner: a folder under the classroom
        home, owner = spawner.home_dir_template.format(username=name), None
    else:  # LocalProcessSpawner: the student's account on this machine, whose files the copy must be
        account = pwd.getpwnam(name)
        home, owner = account.pw_dir, (account.pw_uid, account.pw_gid)
    copied = copy_course(home, owner=owner)
    if copied:
        spawner.log.info("%s: copied %d course notebooks into their home", name, len(copied))


c.Spawner.pre_spawn_hook = give_course
