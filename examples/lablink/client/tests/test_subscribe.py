import pytest

from lablink_client import subscribe


def test_once_gets_a_vm(allocator, capsys):
    assert subscribe.main(["--url", allocator.url, "--user", "ada", "--once"]) == 0
    assert capsys.readouterr().out == "vm-1\n"
    assert allocator.requests == [("/vms/request", {"user": "ada"})]


def test_user_and_url_from_the_environment(allocator, monkeypatch, capsys):
    monkeypatch.setenv("ALLOCATOR_URL", allocator.url + "/")
    monkeypatch.setenv("CLIENT_USER", "grace")
    assert subscribe.main(["--once"]) == 0
    assert allocator.vms["vm-1"] == "grace"


def test_user_defaults_to_the_hostname(allocator, monkeypatch):
    monkeypatch.setattr(subscribe.socket, "gethostname", lambda: "lab-pc-7")
    assert subscribe.main(["--url", allocator.url, "--once"]) == 0
    assert allocator.vms["vm-1"] == "lab-pc-7"


def test_once_when_no_vm_is_free(allocator, capsys):
    allocator.vms = {"vm-1": "someone"}
    assert subscribe.main(["--url", allocator.url, "--user", "ada", "--once"]) == 3
    err = capsys.readouterr().err
    assert "no VM is free" in err and allocator.url in err


def test_waits_until_a_vm_is_free(allocator, capsys):
    allocator.busy_answers = 2
    argv = ["--url", allocator.url, "--user", "ada", "--interval", "0.01"]
    assert subscribe.main(argv) == 0
    out, err = capsys.readouterr()
    assert out == "vm-1\n"
    assert err.count("no VM is free yet") == 2
    assert len(allocator.requests) == 3


def test_unreachable_once(closed_port_url, capsys):
    assert subscribe.main(["--url", closed_port_url, "--user", "ada", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot reach the allocator at {closed_port_url}/vms/request" in err


def test_timeout(silent_url, capsys):
    argv = ["--url", silent_url, "--user", "ada", "--once", "--timeout", "0.2"]
    assert subscribe.main(argv) == 2
    assert "timed out" in capsys.readouterr().err


def test_unreachable_keeps_trying(closed_port_url, monkeypatch, capsys):
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(subscribe.time, "sleep", sleep)
    argv = ["--url", closed_port_url, "--user", "ada", "--interval", "7"]
    assert subscribe.main(argv) == 130
    assert sleeps == [7, 7]
    assert capsys.readouterr().err.count("retrying in 7s") == 2


def test_http_error_is_not_retried(allocator, capsys):
    argv = ["--url", allocator.url + "/nowhere", "--user", "ada", "--interval", "0.01"]
    assert subscribe.main(argv) == 1
    assert "HTTP 404: not found" in capsys.readouterr().err


def test_invalid_url(capsys):
    assert subscribe.main(["--url", "localhost:5000", "--user", "ada", "--once"]) == 2
    err = capsys.readouterr().err
    assert "invalid allocator URL 'localhost:5000/vms/request'" in err
    assert "http://" in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        subscribe.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--user", "--once", "--interval", "--url", "--timeout"):
        assert option in out
