"""ManagedProcess: start a server process, wait until it is ready, stop it for sure.

Used by ``posfleet demo`` (and the central stack) to run Mosquitto, Prometheus and friends
from Debian's packages, and by the test fixtures to start the same servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

DEFAULT_START_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 10.0


class ServerStartError(RuntimeError):
    """The process could not be started or did not become ready in time."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child if the test process dies without tearing down."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class ManagedProcess:
    """One server process: its command line, log file and readiness probe.

    ``start()`` launches it (output appended to ``log_path``) and polls ``ready`` until it
    answers True, the process exits, or ``start_timeout`` passes (then ServerStartError).
    ``stop()`` terminates it, waits ``stop_timeout`` and kills it if needed. A stopped process
    can be started again with the same command line (same port, same data directory).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        ready: Callable[[], bool],
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        detached: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.ready = ready
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.detached = detached
        """True: the process outlives this Python process (``posfleet stack up``); False:
        Linux sends it SIGTERM when its parent dies (tests, the demo)."""
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, running={self.running})"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        """Start the process and wait until it is ready; raise ServerStartError otherwise."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it (then :meth:`wait_ready`), so that
        several servers can start side by side. Launch from a thread that lives as long as
        the process should: Linux's parent-death signal fires when the launching *thread*
        exits (unless ``detached``)."""
        if self.running:
            raise ServerStartError(f"{self.name} is already running (pid {self.pid})")
        executable = shutil.which(self.argv[0])
        if executable is None:
            raise ServerStartError(
                f"{self.name}: executable {self.argv[0]!r} not found on PATH "
                "(scripts/setup installs the Debian packages posfleet runs with)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        header = f"--- {time.strftime('%H:%M:%S')} start: {shlex.join(self.argv)}\n"
        self._log.write(header.encode())
        self._log.flush()
        try:
            self._popen = subprocess.Popen(
                [executable, *self.argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=(
                    _die_with_parent if sys.platform == "linux" and not self.detached else None
                ),
            )
        except OSError as err:
            self._close_log()
            raise ServerStartError(f"{self.name}: cannot execute {executable}: {err}") from err

    def wait_ready(self) -> None:
        """Poll the readiness probe until it answers True; ServerStartError when the process
        exits first or ``start_timeout`` (counted from now) passes."""
        if self._popen is None:
            raise ServerStartError(f"{self.name} was not launched")
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._popen.poll()
            if code is not None:
                self._close_log()
                raise ServerStartError(
                    f"{self.name} exited with code {code} before it became ready"
                )
            if self.ready():
                if self.detached:
                    self._close_log()  # the child keeps its own copy of the descriptor
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise ServerStartError(f"{self.name} was not ready after {self.start_timeout:g}s")
            time.sleep(0.1)

    def stop(self) -> int | None:
        """Terminate (then kill, after ``stop_timeout``); return the exit code, None if not run."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(self.stop_timeout)
        self._close_log()
        return popen.returncode

    def restart(self) -> None:
        self.stop()
        self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the process's log file."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as err:
            return f"(no log at {self.log_path}: {err})"
        return "\n".join(text.splitlines()[-lines:])


def environ_without(*prefixes: str) -> dict[str, str]:
    """A copy of os.environ without variables starting with any of ``prefixes``."""
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


# --- processes known only by pid (``posfleet stack status`` / ``down`` from another process) ---


def process_start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (field 22 of
    /proc/PID/stat), or None when no such process runs. Stored with a pid, it tells a
    recycled pid from the process that was started."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it yet
        return None
    return int(fields[19])


def is_running(pid: int, start_ticks: int | None) -> bool:
    """True while the process ``pid`` started at ``start_ticks`` (None: any) is alive."""
    ticks = process_start_ticks(pid)
    return ticks is not None and (start_ticks is None or ticks == start_ticks)


def stop_pid(pid: int, start_ticks: int | None, timeout: float = DEFAULT_STOP_TIMEOUT) -> str:
    """SIGTERM the process (if it is still the one started at ``start_ticks``), wait up to
    ``timeout``, then SIGKILL it. Returns what happened: ``not running``, ``stopped`` or
    ``killed``."""
    if not is_running(pid, start_ticks):
        return "not running"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid, start_ticks):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and is_running(pid, start_ticks):
        time.sleep(0.05)
    return "killed"
