"""Quitting the real console in a pseudo-terminal: every way out exits and gives the terminal
back (the 1 s target under load is measured by benchmarks/quit.py)."""

from __future__ import annotations

import signal

import pytest

from console_pty import ConsoleUnderPty

#: Generous: the suite shares the machine; benchmarks/quit.py measures the real time.
EXIT_WITHIN_S = 15.0


def _console(port: int) -> ConsoleUnderPty:
    console = ConsoleUnderPty(["--demo", "--offline", "--demo-rate", "3000",
                               "--port", str(port)])
    assert console.wait_for(b"Latest call"), console.output[-2000:]
    return console


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP", "SIGINT"])
def test_every_way_to_quit_exits_and_restores_the_terminal(how: str, free_port: int) -> None:
    console = _console(free_port)
    try:
        if how == "q":
            console.press(b"q")
        elif how == "ctrl+c":
            console.press(b"\x03")
        else:
            console.signal(getattr(signal, how))
        assert console.wait_exit(EXIT_WITHIN_S) is not None, "still running"
        assert console.exit_status == 0
        assert console.restored_terminal(), console.output[-400:]
    finally:
        console.kill()


def test_closing_the_terminal_ends_the_console(free_port: int) -> None:
    console = _console(free_port)
    try:
        console.hang_up()
        assert console.wait_exit(EXIT_WITHIN_S) is not None, "still running"
    finally:
        console.kill()


def test_q_in_the_filter_box_is_text_and_ctrl_c_still_quits(free_port: int) -> None:
    console = _console(free_port)
    try:
        console.press(b"/")
        assert console.wait_for(b"enter to keep")
        console.press(b"q")
        assert console.wait_exit(2.0) is None  # typed into the box, not a quit
        console.press(b"\x03")
        assert console.wait_exit(EXIT_WITHIN_S) is not None
        assert console.restored_terminal()
    finally:
        console.kill()
