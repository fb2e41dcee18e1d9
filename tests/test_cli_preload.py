"""The preloader (cli/launch.py, cli/preloader.py): a responder's command served by a warm process is the
same command, with the caller's arguments, directory, environment, terminal and exit status.

Each test runs the installed `opsbook` as a person does, with the preloader on (conftest turns it off
for every other test) and a runtime folder of its own, so its preloader is its own and is stopped at
the end. The preloader's log says which commands it served; the same command with OPSBOOK_PRELOAD=off
is the reference it must agree with.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import psutil
import pytest

from opsbook.cli.launch import HEADER, wanted
from opsbook.cli.preloader import command_words

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
SRC = Path(__file__).resolve().parent.parent / "src"

CONFIG = """\
title: Preload team
timezone: Europe/Berlin
users:
  - {name: ana, role: responder}
  - {name: ben, role: responder}
schedules:
  - name: primary
    layers:
      - {name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}
escalation_policies:
  - name: default
    levels:
      - {targets: ["schedule:primary"]}
services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health", interval: 30s}
      - {name: a-check-with-a-rather-long-name, kind: http, url: "http://127.0.0.1:9/", interval: 30s}
"""


class Team:
    """A team's folder, its environment with the preloader on, and the preloader's own folder."""

    def __init__(self, folder: Path, runtime: Path) -> None:
        self.folder = folder
        self.runtime = runtime
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("OPSBOOK_")}
        self.env.update(
            OPSBOOK_CONFIG=str(folder / "opsbook.yaml"),
            OPSBOOK_CACHE_DIR=str(folder / "cache"),
            OPSBOOK_USER="ana",
            XDG_RUNTIME_DIR=str(runtime),
            COLUMNS="100",
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPSBOOK, *args], env={**self.env, **env}, cwd=self.folder, capture_output=True, text=True,
            timeout=120, check=False,
        )

    def here(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The same command run in its own process, as without a preloader."""
        return self.run(*args, OPSBOOK_PRELOAD="off", **env)

    def log(self) -> str:
        return "".join(path.read_text() for path in (self.runtime / "opsbook").glob("*.log"))

    def served(self) -> int:
        """How many commands a preloader has forked for so far."""
        return self.log().count("forking for: opsbook ")

    def preloader(self) -> psutil.Process:
        """The preloader: started by the command that found none, waited for until it listens."""
        folder = self.runtime / "opsbook"
        for _ in range(1000):
            sockets = list(folder.glob("*.sock"))
            if sockets and _listening(sockets[0]):
                pid = int(sockets[0].with_suffix(".lock").read_text())
                return psutil.Process(pid)
            time.sleep(0.05)  # a short pause while it loads
        raise AssertionError(f"no preloader listens; its log:\n{self.log()}")

    def warm(self) -> psutil.Process:
        """A preloader for this team's code, running."""
        first = self.run("oncall", "now")
        assert first.returncode == 0, first.stderr
        return self.preloader()

    def stop(self) -> None:
        for lock in (self.runtime / "opsbook").glob("*.lock"):
            text = lock.read_text().strip()
            if text:
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(int(text)).kill()


def _listening(place: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(os.fspath(place))
        except OSError:
            return False
    return True


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    (tmp_path / "opsbook.yaml").write_text(CONFIG)
    runtime = Path(tempfile.mkdtemp(prefix="ob-", dir="/tmp"))  # a Unix socket's path is short
    team = Team(tmp_path, runtime)
    try:
        assert team.here("db", "upgrade").returncode == 0
        for title in ("API down", "Disk full", "Queue stuck"):
            assert team.here("incident", "open", title, "--service", "api").returncode == 0
        yield team
    finally:
        team.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_served_command_prints_and_exits_as_one_run_here(team: Team) -> None:
    team.warm()
    before = team.served()
    for args in (
        ["status"],
        ["incident", "list"],
        ["incident", "show", "1"],
        ["incident", "show", "99"],  # not found: exit 1, the error on stderr
        ["incident", "frobnicate"],  # usage: exit 2
        ["oncall", "now"],
    ):
        served, here = team.run(*args), team.here(*args)
        assert (served.returncode, served.stdout, served.stderr) == (
            here.returncode, here.stdout, here.stderr
        )
    assert team.served() == before + 6
    assert team.here("incident", "show", "99").returncode == 1
    assert team.here("incident", "frobnicate").returncode == 2


def test_the_callers_folder_environment_and_user_are_the_commands(team: Team, tmp_path: Path) -> None:
    team.warm()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in team.env.items() if key != "OPSBOOK_CONFIG"}
    relative = ["-c", "../opsbook.yaml"]  # relative to the caller's working directory, not the preloader's
    for number, user in ((1, "ben"), (2, "ana")):
        done = subprocess.run(
            [OPSBOOK, "incident", "ack", str(number), *relative], env={**env, "OPSBOOK_USER": user},
            cwd=elsewhere, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"acknowledged by {user}" in done.stdout
    shown = team.run("incident", "show", "1").stdout
    assert "Acknowledged by ben via cli" in shown
    assert "Acknowledged by ana via cli" in team.run("incident", "show", "2").stdout
    assert team.served() >= 4


def test_a_terminal_is_the_commands_terminal(team: Team) -> None:
    """Colours, the width and line endings of a real terminal, as the command run here prints them."""
    team.warm()
    env = {key: value for key, value in team.env.items() if key not in ("COLUMNS", "NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"

    def transcript(extra: dict[str, str]) -> str:
        child = pexpect.spawn(
            OPSBOOK, ["status"], env={**env, **extra}, encoding="utf-8", dimensions=(40, 62)
        )
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert child.exitstatus == 0
        return str(child.before)

    before = team.served()
    served, here = transcript({}), transcript({"OPSBOOK_PRELOAD": "off"})
    assert team.served() == before + 1
    assert served == here
    assert "\x1b[" in served  # coloured: the fork saw a terminal
    assert "a-check-with-a-rather-long-name" in served
    assert max(len(line) for line in _plain(served).splitlines()) <= 62


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@contextlib.contextmanager
def database_held(team: Team) -> Iterator[None]:
    """The team's SQLite database locked, so a command that writes waits in its fork until the block ends."""
    holder = sqlite3.connect(next(team.folder.glob("**/*.db")), timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def ack(team: Team) -> subprocess.Popen[str]:
    """`opsbook incident ack 3`, started as a person starts it."""
    return subprocess.Popen(
        [OPSBOOK, "incident", "ack", "3"], env=team.env, cwd=team.folder, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def test_a_signal_to_the_command_reaches_the_fork(team: Team) -> None:
    """`kill` (or a closing terminal) of the command a person started ends the fork doing the work."""
    preloader = team.warm()
    with database_held(team):
        command = ack(team)
        fork = _fork_of(preloader)
        command.send_signal(signal.SIGTERM)
        _, err = command.communicate(timeout=60)
        assert command.returncode == 128 + signal.SIGTERM, err
        fork.wait(timeout=30)
    assert "Status: triggered" in team.run("incident", "show", "3").stdout  # the killed ack changed nothing


def test_a_preloader_killed_mid_command_leaves_the_command_to_finish_once(team: Team) -> None:
    preloader = team.warm()
    with database_held(team):
        command = ack(team)
        _fork_of(preloader)
        preloader.kill()
        preloader.wait(timeout=30)
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert "acknowledged by ana" in out
    shown = team.here("incident", "show", "3").stdout
    assert shown.count("Acknowledged by ana via cli") == 1  # run by the fork, and not again here


def test_ctrl_z_stops_the_fork_with_the_command_and_fg_goes_on(team: Team) -> None:
    preloader = team.warm()
    env = {key: value for key, value in team.env.items() if key != "COLUMNS"}
    with database_held(team):  # the ack waits for the database until the test lets it go
        child = pexpect.spawn(
            OPSBOOK, ["incident", "ack", "3"], env=env, cwd=str(team.folder), encoding="utf-8"
        )
        fork = _fork_of(preloader)
        child.sendcontrol("z")
        command = psutil.Process(child.pid)
        _until(lambda: command.status() == psutil.STATUS_STOPPED and fork.status() == psutil.STATUS_STOPPED)
        command.send_signal(signal.SIGCONT)  # what the shell's `fg` sends
        _until(lambda: fork.status() != psutil.STATUS_STOPPED)
    child.expect("acknowledged by ana", timeout=60)
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0


def test_a_request_it_cannot_take_on_is_handed_back(team: Team) -> None:
    """A fork that cannot become the caller (its folder is gone) runs nothing and says so: the caller
    runs the command itself."""
    team.warm()
    place = next((team.runtime / "opsbook").glob("*.sock"))
    request = json.dumps(
        {"argv": ["opsbook", "incident", "ack", "3"], "env": team.env, "cwd": "/no/such/folder", "umask": 18,
         "streams": [None, None, None]}
    ).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(place))
        socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])
        conn.sendall(request)
        reply = json.loads(conn.makefile("rb").readline())
    assert "/no/such/folder" in reply["refused"]
    assert "Status: triggered" in team.run("incident", "show", "3").stdout


MALFORMED = [
    ([], b"\0\0\0\2", b"{}"),  # no standard streams passed
    ([0, 1, 2], HEADER.pack(64 << 20), b""),  # larger than any environment
    ([0, 1, 2], HEADER.pack(9), b"not json!"),
    ([0, 1, 2], HEADER.pack(2), b"{}"),  # no arguments
]


def test_a_malformed_request_is_refused_and_the_next_served(team: Team) -> None:
    preloader = team.warm()
    place = next((team.runtime / "opsbook").glob("*.sock"))
    for fds, head, body in MALFORMED:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(place))
            socket.send_fds(conn, [head], fds)
            with contextlib.suppress(BrokenPipeError):  # refused before the body was read: it may be
                conn.sendall(body)  # closed already, its answer waiting to be read
            reply = json.loads(conn.makefile("rb").readline())
        assert reply["refused"], (head, body)
        before = team.served()
        assert "API down" in team.run("incident", "list").stdout
        assert team.served() == before + 1
    assert preloader.is_running()


def _fork_of(preloader: psutil.Process) -> psutil.Process:
    _until(lambda: bool(preloader.children()))
    return preloader.children()[0]


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("the condition never held")


def test_changed_code_is_never_served(team: Team, tmp_path: Path) -> None:
    """A preloader whose modules changed on disk refuses, the command runs here, and a new one starts."""
    copy = tmp_path / "src"
    shutil.copytree(SRC / "opsbook", copy / "opsbook", ignore=shutil.ignore_patterns("__pycache__"))
    team.env["PYTHONPATH"] = str(copy)  # this test's own copy of the code, and so a preloader of its own
    old = team.warm()
    module = copy / "opsbook" / "incidents" / "cli.py"
    module.write_text(module.read_text().replace("with its alerts, pages and full", "with everything: its"))
    done = team.run("incident", "show", "--help")
    assert done.returncode == 0
    assert "with everything: its" in done.stdout  # the new code, run here
    assert "code changed" in team.log()
    old.wait(timeout=30)
    new = team.preloader()
    assert new.pid != old.pid
    before = team.served()
    assert "with everything: its" in team.run("incident", "show", "--help").stdout
    assert team.served() == before + 1


def test_a_folder_others_may_enter_is_never_used(team: Team) -> None:
    folder = team.runtime / "opsbook"
    folder.mkdir(mode=0o700)
    folder.chmod(0o755)
    done = team.run("incident", "list")
    assert done.returncode == 0
    assert "API down" in done.stdout
    assert list(folder.iterdir()) == []  # no socket, no log: no preloader was started


def test_a_caller_of_another_user_is_refused(team: Team) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another user")
    team.warm()
    folder = team.runtime / "opsbook"
    place = next(folder.glob("*.sock"))
    for reachable in (team.runtime, folder):  # let the stranger reach the socket; the preloader must still
        reachable.chmod(0o711)  # turn it away
    place.chmod(0o666)
    probe = (  # the connection may be closed before it sends, or after: either way nothing is answered
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)\n"
        "try:\n"
        "    socket.send_fds(s,[b'\\0\\0\\0\\2'],[0,1,2]); s.sendall(b'{}'); data = s.recv(100)\n"
        "except (BrokenPipeError, ConnectionResetError): data = b''\n"
        "print(repr(data) if data else 'closed')\n"
    )
    before = team.served()
    done = subprocess.run(
        ["/usr/bin/python3", "-c", probe, str(place)], user=65534, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "closed", done.stderr  # closed without an answer
    assert "refused a caller of another user" in team.log()
    assert team.served() == before


def test_an_idle_preloader_exits(team: Team) -> None:
    team.env["OPSBOOK_PRELOAD_IDLE"] = "0.2"
    assert team.run("oncall", "now").returncode == 0  # starts one; it may be gone before it is looked for
    _until(lambda: "no command for 0.2 s; exiting" in team.log())
    lock = next((team.runtime / "opsbook").glob("*.lock"))
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(int(lock.read_text())).wait(timeout=60)
    assert not list((team.runtime / "opsbook").glob("*.sock"))


@pytest.mark.parametrize(
    ("argv", "logged"),
    [
        (["opsbook", "incident", "ack", "3"], ["incident", "ack"]),
        (["opsbook", "status", "-c", "/srv/ops/opsbook.yaml"], ["status"]),
        (["opsbook", "incident", "note", "the password is hunter2"], ["incident", "note"]),
        (["opsbook", "oncall", "override-list"], ["oncall", "override-list"]),
        (["opsbook", "42"], ["(no command)"]),
    ],
)
def test_the_log_names_the_command_never_what_was_typed_into_it(argv: list[str], logged: list[str]) -> None:
    assert command_words(argv) == logged


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["opsbook", "incident", "ack", "3"], {}, True),
        (["opsbook", "status"], {}, True),
        (["opsbook", "oncall", "now"], {}, True),
        (["opsbook", "status"], {"OPSBOOK_PRELOAD": "off"}, False),
        (["opsbook", "status"], {"OPSBOOK_PRELOAD": " No "}, False),
        (["opsbook", "runbook", "run", "x"], {}, False),  # prompts: run here, on the terminal it owns
        (["opsbook", "serve"], {}, False),
        (["opsbook", "--help"], {}, False),
        (["opsbook"], {}, False),
    ],
)
def test_which_commands_are_handed_over(argv: list[str], environ: dict[str, str], expected: bool) -> None:
    assert wanted(argv, environ) is expected
