"""run_service: what a service's main() prints and returns."""

import os
import signal
import threading
import time
from dataclasses import dataclass

import redis

from streamcommon.broker import connect
from streamcommon.errors import ServiceError
from streamcommon.service import run_service
from streamcommon.settings import Address, parse_address


@dataclass(frozen=True)
class Settings:
    broker: Address


SETTINGS = Settings(Address("127.0.0.1", 6379))


def load():
    return SETTINGS


def test_done_prints_the_summary_and_returns_0(capsys):
    seen = []

    def work(settings, stop):
        seen.append((settings, stop.is_set()))
        return "svc: all done"

    assert run_service("svc", load, work) == 0
    assert seen == [(SETTINGS, False)]
    assert capsys.readouterr().out == "svc: all done\n"


def test_a_service_error_is_one_line_and_exit_2(capsys):
    def bad_load():
        raise ServiceError("N must be a whole number, got 'x'")

    assert run_service("svc", bad_load, lambda s, stop: "never") == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "svc: N must be a whole number, got 'x'\n")


def test_an_unreachable_broker(closed_address, capsys):
    settings = Settings(parse_address(closed_address))
    started = time.monotonic()
    assert run_service("svc", lambda: settings, lambda s, stop: connect(s.broker)) == 2
    assert time.monotonic() - started < 5
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"svc: cannot reach the broker at {closed_address} (Connection refused); "
        "set BROKER_ADDRESS\n"
    )


def test_a_timeout_is_unreachable_too(capsys):
    def work(settings, stop):
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    assert run_service("svc", load, work) == 2
    assert capsys.readouterr().err == (
        "svc: cannot reach the broker at 127.0.0.1:6379 (no answer within 2 s); "
        "set BROKER_ADDRESS\n"
    )


def test_a_broker_that_refuses(capsys):
    def work(settings, stop):
        raise redis.exceptions.ResponseError("WRONGTYPE Operation against a key")

    assert run_service("svc", load, work) == 2
    assert capsys.readouterr().err == (
        "svc: the broker at 127.0.0.1:6379 refused: WRONGTYPE Operation against a key\n"
    )


def test_ctrl_c_is_130(capsys):
    def work(settings, stop):
        raise KeyboardInterrupt

    assert run_service("svc", load, work) == 130
    assert capsys.readouterr().err == "svc: interrupted\n"


def test_sigterm_sets_stop_and_the_handler_is_restored(capsys):
    before = signal.getsignal(signal.SIGTERM)

    def work(settings, stop):
        os.kill(os.getpid(), signal.SIGTERM)
        return f"svc: stopped={stop.wait(5)}"

    assert run_service("svc", load, work) == 0
    assert capsys.readouterr().out == "svc: stopped=True\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_no_handler_is_installed(capsys):
    before = signal.getsignal(signal.SIGTERM)
    codes, handlers = [], []

    def work(settings, stop):
        handlers.append(signal.getsignal(signal.SIGTERM))
        return "svc: done"

    thread = threading.Thread(target=lambda: codes.append(run_service("svc", load, work)))
    thread.start()
    thread.join(10)
    assert codes == [0]
    assert handlers == [before]
