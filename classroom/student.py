"""A student of the classroom, driven through the hub's own HTTP interfaces: no browser.

A :class:`Student` does what a browser does for a learner: logs in with the hub's login form, asks the hub
for their server (and a token to talk to it), reads and saves notebooks through the server's contents API,
starts a kernel and runs cells over the kernel's websocket, as JupyterLab does. The tests and the memory
benchmark use it; a teacher can use it to try a classroom before the class comes.

    student = Student("http://127.0.0.1:8000", "alice", password)
    student.log_in()
    student.start_server()
    kernel = student.start_kernel()
    print(student.run(kernel, "1 + 1").text)   # '2'
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
import websocket


class ClassroomClientError(RuntimeError):
    """The hub or a student's server answered something other than what a working classroom answers."""


@dataclass
class CellRun:
    """What one cell printed: stdout and stderr text, rich results by MIME type, the error if one was raised."""

    stdout: str = ""
    stderr: str = ""
    data: list[dict] = field(default_factory=list)  # execute_result and display_data bundles, in order
    error: str | None = None  # "ErrorName: message"

    @property
    def text(self) -> str:
        """The plain-text results (``text/plain`` of each result), one per line."""
        return "\n".join(bundle["text/plain"] for bundle in self.data if "text/plain" in bundle)


class Student:
    """One student: a login session with the hub, then a token for their own server.

    Args:
        hub_url: the address students open, e.g. ``http://127.0.0.1:8000``.
        name: the username to log in with.
        password: the class password.
        timeout: seconds allowed for one HTTP request.
    """

    def __init__(self, hub_url: str, name: str, password: str, timeout: float = 60.0):
        self.hub_url = hub_url.rstrip("/")
        self.name, self.password, self.timeout = name, password, timeout
        self.token: str | None = None
        self.server_url: str | None = None  # /user/<name>/ once started
        self._http = httpx.Client(base_url=self.hub_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def log_in(self) -> None:
        """Post the hub's login form, as a browser does, then make a token for the API calls that follow."""
        page = self._http.get("/hub/login")
        form_xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        fields = {"username": self.name, "password": self.password}
        if form_xsrf:
            fields["_xsrf"] = form_xsrf.group(1)
        answer = self._http.post("/hub/login", data=fields)
        if answer.status_code != 302:
            raise ClassroomClientError(f"{self.name} could not log in (HTTP {answer.status_code}): wrong password?")
        # The hub checks the XSRF cookie on API calls made with the login cookie.
        xsrf = {"X-XSRFToken": self._http.cookies.get("_xsrf", path="/hub/") or ""}
        made = self._http.post(f"/hub/api/users/{self.name}/tokens", json={"note": "classroom client"}, headers=xsrf)
        self._expect(made, 201, "make a token")
        self.token = made.json()["token"]

    def start_server(self, timeout: float = 120.0) -> str:
        """Ask the hub for this student's server and wait until it is ready; returns its URL path."""
        started = self._hub("POST", f"/users/{self.name}/server")
        if started.status_code not in (201, 202, 400):  # 400: it is running already
            self._expect(started, 201, "start the server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self._hub("GET", f"/users/{self.name}").json()["servers"].get("")
            if server is None:  # the hub has given up on it
                raise ClassroomClientError(f"{self.name}'s server failed to start: {started.text[:300]} (see the hub's log)")
            if server["ready"]:
                self.server_url = server["url"]
                return self.server_url
            time.sleep(0.5)
        raise ClassroomClientError(f"{self.name}'s server was not ready after {timeout:.0f} s (see the hub's log)")

    def stop_server(self, timeout: float = 60.0) -> None:
        """Stop this student's server and wait until it has stopped (their files stay in their home)."""
        self._hub("DELETE", f"/users/{self.name}/server")
        deadline = time.monotonic() + timeout
        while self._hub("GET", f"/users/{self.name}").json()["servers"].get(""):
            if time.monotonic() > deadline:
                raise ClassroomClientError(f"{self.name}'s server had not stopped after {timeout:.0f} s")
            time.sleep(0.3)
        self.server_url = None

    # --- the student's own Jupyter server -------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A request to the student's server API, e.g. ``api("GET", "contents/notebooks")``."""
        if self.server_url is None:
            raise ClassroomClientError(f"{self.name}'s server is not started: call start_server() first")
        return self._http.request(method, f"{self.server_url}api/{path}", headers=self._auth(), **kwargs)

    def list_folder(self, path: str) -> list[str]:
        """The names in a folder of the student's home, sorted."""
        answer = self.api("GET", f"contents/{path}")
        self._expect(answer, 200, f"list {path}")
        return sorted(item["name"] for item in answer.json()["content"])

    def read_notebook(self, path: str) -> dict:
        """A notebook of the student's home, as nbformat JSON."""
        answer = self.api("GET", f"contents/{path}", params={"type": "notebook", "content": 1})
        self._expect(answer, 200, f"read {path}")
        return answer.json()["content"]

    def save_notebook(self, path: str, notebook: dict) -> None:
        """Save a notebook into the student's home, as JupyterLab's save does."""
        answer = self.api("PUT", f"contents/{path}", json={"type": "notebook", "format": "json", "content": notebook})
        self._expect(answer, 200, f"save {path}")

    def start_kernel(self, cwd: str = "") -> str:
        """Start a Python kernel whose working folder is ``cwd`` (relative to the home); returns its id."""
        answer = self.api("POST", "kernels", json={"name": "python3", "path": cwd})
        self._expect(answer, 201, "start a kernel")
        return answer.json()["id"]

    def run(self, kernel_id: str, code: str, timeout: float = 120.0) -> CellRun:
        """Run ``code`` in the kernel, as a cell, and collect what it printed."""
        url = self.hub_url.replace("http", "ws", 1) + f"{self.server_url}api/kernels/{kernel_id}/channels"
        session = uuid.uuid4().hex
        ws = websocket.create_connection(f"{url}?session_id={session}", header=self._auth(), timeout=timeout)
        try:
            request = _message("execute_request", session, {
                "code": code, "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
            })
            ws.send(json.dumps(request))
            return _collect(ws, request["header"]["msg_id"], timeout)
        finally:
            ws.close()

    # --- helpers ----------------------------------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        if self.token is None:
            raise ClassroomClientError(f"{self.name} has not logged in: call log_in() first")
        return {"Authorization": f"token {self.token}"}

    def _hub(self, method: str, path: str) -> httpx.Response:
        return self._http.request(method, f"/hub/api{path}", headers=self._auth())

    def _expect(self, answer: httpx.Response, status: int, what: str) -> None:
        if answer.status_code != status:
            raise ClassroomClientError(
                f"{self.name} could not {what}: HTTP {answer.status_code} {answer.text[:300]}"
            )


def _message(msg_type: str, session: str, content: dict) -> dict:
    """A Jupyter message for the shell channel (messaging protocol 5.3)."""
    header = {
        "msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session, "username": "student",
        "date": datetime.now(timezone.utc).isoformat(), "version": "5.3",
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}


def _collect(ws: websocket.WebSocket, msg_id: str, timeout: float) -> CellRun:
    """Read the kernel's messages for request ``msg_id`` until it is idle and has replied."""
    run, idle, replied = CellRun(), False, False
    deadline = time.monotonic() + timeout
    while not (idle and replied):
        if time.monotonic() > deadline:
            raise ClassroomClientError(f"the cell did not finish within {timeout:.0f} s")
        message = json.loads(ws.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            setattr(run, content["name"], getattr(run, content["name"]) + content["text"])
        elif kind in ("execute_result", "display_data"):
            run.data.append(content["data"])
        elif kind == "error":
            run.error = f"{content['ename']}: {content['evalue']}"
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        elif kind == "execute_reply":
            replied = True
    return run
