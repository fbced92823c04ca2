import pytest

from lablink_client import update_inuse_status


def test_in_use(allocator, capsys):
    assert (
        update_inuse_status.main(["--url", allocator.url, "--vm", "vm-2", "--in-use"])
        == 0
    )
    assert capsys.readouterr().out == "vm-2: in use\n"
    assert allocator.requests == [("/vms/vm-2/in-use", {"in_use": True})]
    assert allocator.in_use["vm-2"] is True


def test_free_with_vm_and_url_from_the_environment(allocator, monkeypatch, capsys):
    allocator.in_use["vm-1"] = True
    monkeypatch.setenv("ALLOCATOR_URL", allocator.url)
    monkeypatch.setenv("VM_NAME", "vm-1")
    assert update_inuse_status.main(["--free"]) == 0
    assert capsys.readouterr().out == "vm-1: free\n"
    assert allocator.in_use["vm-1"] is False


def test_unknown_vm_prints_the_allocators_error(allocator, capsys):
    assert (
        update_inuse_status.main(["--url", allocator.url, "--vm", "vm-9", "--in-use"])
        == 1
    )
    err = capsys.readouterr().err
    assert "HTTP 404: unknown VM: vm-9" in err


def test_vm_name_is_quoted_in_the_path(allocator):
    assert (
        update_inuse_status.main(["--url", allocator.url, "--vm", "a/b", "--free"]) == 1
    )
    assert allocator.requests[0][0] == "/vms/a%2Fb/in-use"


def test_unreachable(closed_port_url, capsys):
    argv = ["--url", closed_port_url, "--vm", "vm-1", "--free"]
    assert update_inuse_status.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot reach the allocator at {closed_port_url}/vms/vm-1/in-use" in err


def test_timeout(silent_url, capsys):
    argv = ["--url", silent_url, "--vm", "vm-1", "--free", "--timeout", "0.2"]
    assert update_inuse_status.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        f"cannot reach the allocator at {silent_url}/vms/vm-1/in-use: timed out" in err
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--vm", "vm-1"],  # neither --in-use nor --free
        ["--vm", "vm-1", "--in-use", "--free"],
        ["--in-use"],  # no VM and no VM_NAME
    ],
)
def test_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        update_inuse_status.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        update_inuse_status.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--in-use", "--free", "--vm", "--url", "--timeout"):
        assert option in out
