"""The `opsbook` program's entry point: a responder's command handed to a warm process, else run here.

On the project's machine Python spends about 300 ms importing what every command that opens the
database needs (SQLAlchemy, pydantic, Typer, Rich) before the command does anything. The preloader
(`cli/preloader.py`) keeps those modules and the responder's command modules loaded; this module, which
imports only the standard library, hands it the command: the arguments, the environment, the working
directory, the umask and the terminal itself (standard input, output and error, passed over a Unix
socket). The preloader forks; the fork runs the command exactly as this process would have, writes to
the same terminal, and reports its exit status, which this process exits with. Signals this process
gets (Ctrl-C, a hang-up, a kill) are passed on to the fork.

Only the commands in PRELOADED go that way: quick ones that never prompt. Everything else, and every
command when OPSBOOK_PRELOAD=off, or when no preloader is listening, or when it refuses (it was started
from code that has changed since), runs in this process as before. The first such command starts a
preloader in the background for the next ones; it exits after OPSBOOK_PRELOAD_IDLE seconds without a
command (default 3600), or as soon as it notices its code changed.

The socket lives in a directory only this user may enter ($XDG_RUNTIME_DIR/opsbook, else
/tmp/opsbook-UID); the preloader also checks the caller's user id. Its name is keyed on the Python
program, the location of opsbook's code and the PYTHON* environment, so another checkout or virtual
environment gets a preloader of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

PRELOADED = frozenset({"status", "incident", "oncall", "alert"})
"""Top-level commands served by the preloader: what a responder types, none of which prompts."""

HEADER = struct.Struct("!I")
"""A request is this 4-byte length (sent with the three standard streams) and that many bytes of JSON."""

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCONT)
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


def main() -> None:
    """The console script: serve `sys.argv` through the preloader when it may, else run it here."""
    argv = list(sys.argv)
    argv[0] = "opsbook"
    if wanted(argv, os.environ):
        place = socket_path()
        if place is not None:
            code = served(place, argv)
            if code is not None:
                sys.exit(code)
            start_preloader(place)
    run_here()


def run_here() -> None:
    """The command, in this process."""
    from opsbook.cli.main import app

    app(prog_name="opsbook")


def wanted(argv: list[str], environ: Any) -> bool:
    """Whether this command goes to the preloader: one of PRELOADED, and the preloader not turned off."""
    if environ.get("OPSBOOK_PRELOAD", "").strip().lower() in ("off", "0", "no", "false"):
        return False
    if not hasattr(socket, "SO_PEERCRED"):  # Linux: the preloader must know who calls
        return False
    return len(argv) > 1 and argv[1] in PRELOADED


def socket_path() -> Path | None:
    """Where this user's preloader for this code listens; None when no private directory can be had."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    # /tmp is shared, so the folder's owner and mode are checked below before anything is put in it
    folder = Path(runtime) / "opsbook" if runtime else Path(f"/tmp/opsbook-{os.getuid()}")  # noqa: S108
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = folder.lstat()
    except OSError:
        return None
    # Someone else's folder, or one others may write to: never talk to (or start) a preloader there.
    private = stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid() and not found.st_mode & 0o077
    if not private:
        return None
    place = folder / f"preload-{code_key(os.environ):08x}.sock"
    return place if len(os.fsencode(place)) <= MAX_SOCKET_PATH else None


def code_key(environ: Any) -> int:
    """Which code a preloader runs: this Python, this opsbook and the PYTHON* settings."""
    python = {key: value for key, value in sorted(environ.items()) if key.startswith("PYTHON")}
    here = str(Path(__file__).resolve().parent.parent)
    return zlib.crc32(json.dumps([sys.executable, sys.version, here, python]).encode())


def served(place: Path, argv: list[str]) -> int | None:
    """The command's exit status as the preloader's fork ran it, or None when no preloader took it (then
    nothing ran, and the caller may run it itself)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            conn.connect(os.fspath(place))
            request = json.dumps(
                {
                    "argv": argv,
                    "env": dict(os.environ),
                    "cwd": os.getcwd(),
                    "umask": current_umask(),
                    "streams": [stream_settings(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
                }
            ).encode()
            socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])
            conn.sendall(request)
            replies = conn.makefile("rb")
            first = read_reply(replies)
        except OSError:
            return None
        if first is None or "pid" not in first:
            return None  # refused (its code changed) or gone before a fork took it: run here
        return wait_for(int(first["pid"]), replies)  # from here on the command is running: never twice
    finally:
        conn.close()


def wait_for(pid: int, replies: Any) -> int:
    """Pass signals on to the fork `pid` until it reports how it ended."""

    def pass_on(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def stop(_signum: int, _frame: object) -> None:
        """Ctrl-Z: the fork stops with this process, and both go on when the shell continues this one."""
        pass_on(signal.SIGSTOP, None)
        os.kill(os.getpid(), signal.SIGSTOP)

    for signum in FORWARDED:
        signal.signal(signum, pass_on)
    signal.signal(signal.SIGTSTP, stop)
    try:
        reply = read_reply(replies)
    except OSError:
        reply = None
    if reply is None or "exit" not in reply:
        print("opsbook: the command ended without an exit status (was it killed?)", file=sys.stderr)
        return 1
    return int(reply["exit"])


def read_reply(replies: Any) -> dict[str, Any] | None:
    """The preloader's next line; None at the end, or for a line that is not one of its answers."""
    line = replies.readline()
    try:
        reply = json.loads(line) if line else None
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def stream_settings(stream: Any) -> dict[str, Any] | None:
    """How Python set up a standard stream here (encoding, errors, buffering), for the fork to match."""
    if stream is None:
        return None
    return {
        "encoding": getattr(stream, "encoding", None),
        "errors": getattr(stream, "errors", None),
        "line_buffering": bool(getattr(stream, "line_buffering", False)),
    }


def start_preloader(place: Path) -> None:
    """Start a preloader for `place` in the background, detached from this terminal; never fails."""
    import subprocess

    log = place.with_suffix(".log")
    try:
        with open(log, "ab") as out:
            subprocess.Popen(  # noqa: S603 - this Python, this module, a path it made
                [sys.executable, "-m", "opsbook.cli.preloader", os.fspath(place)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True,
                cwd="/",
            )
    except OSError:
        pass
