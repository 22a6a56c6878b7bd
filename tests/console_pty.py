"""The real ``plano obs`` console in a pseudo-terminal: start it, press keys, signal it, and
read back what it wrote to the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import sys
import termios
import threading
import time
from pathlib import Path

ALT_SCREEN_ON = b"\x1b[?1049h"
#: What a terminal needs to be usable again after the console: main screen, cursor, no mouse.
RESTORED = (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1000l", b"\x1b[?1003l")


class ConsoleUnderPty:
    """``plano obs ARGS`` in a pty of ``columns`` x ``lines``; everything it writes is kept."""

    def __init__(self, args: list[str], columns: int = 120, lines: int = 40,
                 env: dict[str, str] | None = None) -> None:
        plano = Path(sys.executable).with_name("plano")
        command = [str(plano), "obs", *args] if plano.exists() else [
            sys.executable, "-m", "plano_obs", "obs", *args]
        environ = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns),
                   "LINES": str(lines), **(env or {})}
        environ.pop("TEXTUAL_ALLOW_SIGNALS", None)
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the console
            try:
                os.execvpe(command[0], command, environ)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.output = bytearray()
        self._lock = threading.Lock()
        self.exit_status: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # Keep draining: a console whose terminal stops reading blocks on its next write.
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def seen(self, data: bytes, since: int = 0) -> bool:
        """True when the console wrote ``data`` (after byte ``since``)."""
        with self._lock:
            return self.output.find(data, since) >= 0

    def wait_for(self, data: bytes, timeout_s: float = 60.0, since: int = 0) -> bool:
        """Wait until the console wrote ``data``; False if it did not in time (or exited)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.seen(data, since):
                return True
            if self.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def press(self, keys: bytes) -> None:
        """Type ``keys`` (b"q", b"\\x03" for ctrl+c)."""
        os.write(self.fd, keys)

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does."""
        os.close(self.fd)

    def poll(self) -> int | None:
        """The exit status once the console has exited, else None."""
        if self.exit_status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status

    def wait_exit(self, timeout_s: float) -> float | None:
        """Seconds until the console exited, or None when it still runs after ``timeout_s``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.poll() is not None:
                return time.monotonic() - started
            time.sleep(0.005)
        return None

    def restored_terminal(self) -> bool:
        """True when, after it last entered the alternate screen, the console left it and
        turned the cursor back on and mouse reporting off."""
        self._reader.join(timeout=2)
        with self._lock:
            tail = bytes(self.output[self.output.rfind(ALT_SCREEN_ON):])
        return all(seq in tail for seq in RESTORED)

    def kill(self) -> None:
        """Make sure the console is gone (a test that failed half-way)."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.exit_status = -9
