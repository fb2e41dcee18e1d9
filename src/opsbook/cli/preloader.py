"""The preloader: a process that keeps the responder's commands loaded and forks one per command.

Started in the background by `cli/launch.py` (`python -m opsbook.cli.preloader SOCKET`). It imports the
commands of launch.PRELOADED with everything they need, then waits on its Unix socket. Each request
brings a command's arguments, environment, working directory, umask and standard streams; the
preloader forks, and the fork takes them all on as its own, tells the caller its process id, runs the
command exactly as `opsbook` would, and reports the exit status before it exits. The preloader itself
never loads a config, opens a database or starts a thread, so every fork starts from the same clean
state, with the config read afresh.

It refuses (and exits) when a module it loaded has changed on disk since, so an upgraded opsbook or a
library is never served by old code; it exits after OPSBOOK_PRELOAD_IDLE seconds with no request
(default 3600), and it answers only its own user. One preloader per socket: a lock held for its life.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import locale
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from opsbook.cli.launch import HEADER, PRELOADED

DEFAULT_IDLE = 3600.0
MAX_REQUEST = 4 << 20


def main() -> None:
    place = Path(sys.argv[1])
    lock = open(place.with_suffix(".lock"), "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another preloader serves this socket
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")  # who holds it, for a person (or a test) looking
    lock.flush()
    preload()
    Preloader(place, lock).loop(idle_seconds(os.environ.get("OPSBOOK_PRELOAD_IDLE")))


class Preloader:
    """The listening socket, the forks still running and whom to tell how each ended."""

    def __init__(self, place: Path, lock: Any) -> None:
        self.place = place
        self.lock = lock
        self.known = module_files()
        self.listener = listen(place)
        self.callers: dict[int, socket.socket] = {}  # fork pid -> its caller's connection
        self.wakeup, wakeup_w = socket.socketpair()
        wakeup_w.setblocking(False)
        self._wakeup_w = wakeup_w
        signal.set_wakeup_fd(wakeup_w.fileno())
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # the wake-up byte is what counts

    def loop(self, idle: float) -> None:
        """Serve until `idle` seconds pass with no request, or the code changes."""
        last = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            selector.register(self.wakeup, selectors.EVENT_READ)
            while True:
                left = idle - (time.monotonic() - last)
                if left <= 0 and not self.callers:
                    break
                for key, _ in selector.select(timeout=max(left, 0.0) if not self.callers else None):
                    if key.fileobj is self.wakeup:
                        self.wakeup.recv(4096)
                        self.reap()
                        continue
                    last = time.monotonic()
                    if not self.accept():
                        return
        self.place.unlink(missing_ok=True)
        log(f"no command for {idle:g} s; exiting")

    def accept(self) -> bool:
        """Take one caller; False when this preloader must make way for a new one."""
        conn, _ = self.listener.accept()
        if not same_user(conn):
            log("refused a caller of another user")
            conn.close()
            return True
        if changed(self.known):  # make way for a preloader of the new code, then send the caller to it
            self.place.unlink(missing_ok=True)
            self.lock.close()
            log("refused: the code changed since this preloader started; exiting")
            refuse(conn, "code changed since the preloader started")
            return False
        pid = serve(conn, (self.listener, self.wakeup, self._wakeup_w, self.lock, *self.callers.values()))
        if pid is not None:
            self.callers[pid] = conn
        return True

    def reap(self) -> None:
        """Collect ended forks; a caller whose fork was killed before it could report hears it here."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code  # killed by a signal: as a shell says it
            conn = self.callers.pop(pid, None)
            log(f"fork {pid} ended with status {code}")
            if conn is not None:
                report(conn, code)
                conn.close()


def preload() -> None:
    """Import every preloaded command the way `opsbook` does, then freeze what was loaded."""
    from opsbook.cli.main import load
    from opsbook.cli.startup import collector_held

    with collector_held():
        for name in sorted(PRELOADED):
            load(name)


def module_files() -> dict[str, tuple[int, int]]:
    """Every loaded module's file, with its modification time and size."""
    found: dict[str, tuple[int, int]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            try:
                info = os.stat(path)
            except OSError:
                continue
            found[path] = (info.st_mtime_ns, info.st_size)
    return found


def changed(known: dict[str, tuple[int, int]]) -> bool:
    """Whether any module file loaded at start has changed or gone."""
    for path, seen in known.items():
        try:
            info = os.stat(path)
        except OSError:
            return True
        if (info.st_mtime_ns, info.st_size) != seen:
            return True
    return False


def listen(place: Path) -> socket.socket:
    """The listening socket at `place`, readable and writable by this user alone."""
    place.unlink(missing_ok=True)  # left by a preloader that died: the lock says none is alive
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(os.fspath(place))
    finally:
        os.umask(old)
    listener.listen(16)
    return listener


def idle_seconds(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_IDLE
    except ValueError:
        return DEFAULT_IDLE
    return seconds if seconds > 0 else DEFAULT_IDLE


def same_user(conn: socket.socket) -> bool:
    """Whether the caller runs as this process's user (SO_PEERCRED: pid, uid, gid)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder) == os.getuid()


def log(line: str) -> None:
    """A line in the preloader's log (its standard error): never a command's arguments."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"{stamp} preloader {os.getpid()}: {line}", file=sys.stderr, flush=True)


def command_words(argv: list[Any]) -> list[str]:
    """The command's name as the log shows it (`incident ack`): its first two words when they are words,
    never a value a person typed (an id, a note, a path)."""
    words = [str(word) for word in argv[1:3]]
    named = [word for word in words if word[:1].isalpha() and word.replace("-", "").isalpha()]
    return named or ["(no command)"]


def report(conn: socket.socket, code: int) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")


def refuse(conn: socket.socket, why: str) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps({"refused": why}).encode() + b"\n")
    conn.close()


def serve(conn: socket.socket, inherited: tuple[Any, ...]) -> int | None:
    """Read one request and fork a process that runs it; the fork's pid (None: refused)."""
    fds: list[int] = []
    try:
        conn.settimeout(5)
        head, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        if len(head) != HEADER.size or len(fds) != 3:
            raise ValueError("a malformed request")
        (length,) = HEADER.unpack(head)
        if length > MAX_REQUEST:
            raise ValueError("a request too large")
        body = bytearray()
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                raise ValueError("a request cut short")
            body += chunk
        request = json.loads(body)
        argv = request["argv"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            os.close(fd)
        log(f"refused a request: {exc}")
        refuse(conn, str(exc))
        return None
    # logged before the fork, so the line is there by the time the command has answered its caller
    log(f"forking for: opsbook {' '.join(command_words(argv))}")
    pid = os.fork()
    if pid == 0:  # the fork: whatever happens, it never returns into the preloader's loop
        code = 1
        try:
            for held in inherited:
                held.close()
            code = run(conn, fds, request)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def run(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> int:
    """In the fork: become the caller's command, run it, report its exit status."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    conn.settimeout(None)
    try:
        take_on(fds, request)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:  # nothing ran: the caller runs it
        refuse(conn, f"could not take on the caller's process: {exc}")
        return 1
    code = 1
    try:
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        code = command(request["argv"])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        report(conn, code)
    return code


def take_on(fds: list[int], request: dict[str, Any]) -> None:
    """The caller's working directory, umask, environment and standard streams, as this process's own."""
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update(request["env"])
    with contextlib.suppress(locale.Error):  # as Python does at start, with the caller's LANG and LC_*
        locale.setlocale(locale.LC_CTYPE, "")
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    settings = request["streams"]
    sys.stdin = _stream(0, "r", settings[0])
    sys.stdout = _stream(1, "w", settings[1])
    sys.stderr = _stream(2, "w", settings[2])
    from opsbook.cli.common import detect_terminal

    detect_terminal()


def _stream(fd: int, mode: str, settings: dict[str, Any] | None) -> io.TextIOWrapper:
    settings = settings or {}
    return io.TextIOWrapper(
        io.open(fd, mode + "b", closefd=False),  # noqa: UP020 - a binary stream on a file descriptor
        encoding=settings.get("encoding") or "utf-8",
        errors=settings.get("errors") or "strict",
        line_buffering=bool(settings.get("line_buffering")),
        write_through=mode == "w" and bool(settings.get("line_buffering")),
    )


def command(argv: list[str]) -> int:
    """Run the command as `opsbook` does; its exit status."""
    from opsbook.cli.main import app

    sys.argv = list(argv)
    try:
        app(args=argv[1:], prog_name="opsbook")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException:  # what Python would print for an uncaught exception, and its status
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    main()
