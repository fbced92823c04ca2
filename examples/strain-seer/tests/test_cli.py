import os
import sys

import pytest

from strain_seer import cli


def option(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_defaults():
    cmd = cli.streamlit_command({})
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert option(cmd, "--server.port") == "8501"
    assert option(cmd, "--server.address") == "0.0.0.0"
    assert option(cmd, "--server.headless") == "true"
    assert option(cmd, "--browser.gatherUsageStats") == "false"
    assert cmd[-1] == str(cli.APP_PATH)
    assert cli.APP_PATH.is_file()


def test_environment_is_honoured_and_extra_options_come_before_the_script():
    env = {"STREAMLIT_SERVER_PORT": "9123", "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"}
    cmd = cli.streamlit_command(env, ["--logger.level", "debug"])
    assert option(cmd, "--server.port") == "9123"
    assert option(cmd, "--server.address") == "127.0.0.1"
    assert cmd[-3:] == ["--logger.level", "debug", str(cli.APP_PATH)]


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_bad_port_is_refused(port):
    with pytest.raises(SystemExit, match="STREAMLIT_SERVER_PORT"):
        cli.streamlit_command({"STREAMLIT_SERVER_PORT": port})


def test_tmpdir_is_created_and_matplotlib_config_goes_under_it(tmp_path):
    tmp = tmp_path / "app"
    env = cli.prepare_environment({"TMPDIR": str(tmp), "HOME": "/nonexistent"})
    assert tmp.is_dir()
    assert env["MPLCONFIGDIR"] == os.path.join(str(tmp), "matplotlib")


def test_an_explicit_mplconfigdir_is_kept(tmp_path):
    env = cli.prepare_environment({"TMPDIR": str(tmp_path), "MPLCONFIGDIR": "/somewhere"})
    assert env["MPLCONFIGDIR"] == "/somewhere"


def test_help(capsys):
    assert cli.main(["--help"]) == 0
    assert "STREAMLIT_SERVER_PORT" in capsys.readouterr().out
