import ctypes
import json
import subprocess
import sys
from types import SimpleNamespace

import pynvml
import pytest

from lablink_client import check_gpu

NO_LIBRARY = (
    "check_gpu: no usable GPU: the NVIDIA driver library (libnvidia-ml.so.1) was not "
    "found; run the container with --gpus all on a host with the NVIDIA driver and "
    "container toolkit\n"
)


def driver_library_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.fixture
def fake_nvml(monkeypatch):
    """pynvml with NVML replaced: init succeeds, the devices are set per test."""
    devices = []
    calls = []
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: calls.append("init"))
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: calls.append("shutdown"))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: len(devices))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: devices[i])
    monkeypatch.setattr(pynvml, "nvmlDeviceGetName", lambda h: h["name"])
    monkeypatch.setattr(
        pynvml,
        "nvmlDeviceGetMemoryInfo",
        lambda h: SimpleNamespace(
            total=h["total"], free=h["free"], used=h["total"] - h["free"]
        ),
    )
    return SimpleNamespace(devices=devices, calls=calls)


def raise_on_init(monkeypatch, code):
    def init():
        raise pynvml.NVMLError(code)

    monkeypatch.setattr(pynvml, "nvmlInit", init)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
            "(libnvidia-ml.so.1) was not found; run the",
        ),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "the kernel driver is not loaded"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "no permission to use the NVIDIA devices"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "have different versions"),
        (pynvml.NVML_ERROR_UNKNOWN, "NVML failed: Unknown Error"),
    ],
)
def test_nvml_errors(monkeypatch, capsys, code, message):
    raise_on_init(monkeypatch, code)
    assert check_gpu.main([]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("check_gpu: no usable GPU: ")
    assert message in err
    assert err.count("\n") == 1


def test_library_not_found_json(monkeypatch, capsys):
    raise_on_init(monkeypatch, pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    assert check_gpu.main(["--json"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["usable"] is False and result["devices"] == []
    assert "libnvidia-ml.so.1" in result["error"]
    assert err == NO_LIBRARY


def test_no_devices(fake_nvml, capsys):
    assert check_gpu.main([]) == 1
    assert "reports 0 GPUs" in capsys.readouterr().err
    assert fake_nvml.calls == ["init", "shutdown"]


def test_one_device(fake_nvml, capsys):
    fake_nvml.devices.append(
        {"name": "NVIDIA A10", "total": 24 << 30, "free": 20 << 30}
    )
    assert check_gpu.main([]) == 0
    out, err = capsys.readouterr()
    assert out == "GPU 0: NVIDIA A10, 24576 MiB total, 20480 MiB free\n"
    assert err == ""
    assert fake_nvml.calls == ["init", "shutdown"]


def test_devices_json(fake_nvml, capsys):
    fake_nvml.devices.append({"name": b"Tesla T4", "total": 16 << 30, "free": 1 << 30})
    fake_nvml.devices.append({"name": "NVIDIA L4", "total": 24 << 30, "free": 24 << 30})
    assert check_gpu.main(["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "usable": True,
        "devices": [
            {
                "index": 0,
                "name": "Tesla T4",
                "memory_total_bytes": 16 << 30,
                "memory_free_bytes": 1 << 30,
            },
            {
                "index": 1,
                "name": "NVIDIA L4",
                "memory_total_bytes": 24 << 30,
                "memory_free_bytes": 24 << 30,
            },
        ],
        "error": None,
    }


def test_error_while_listing_devices(fake_nvml, monkeypatch, capsys):
    fake_nvml.devices.append({"name": "NVIDIA A10", "total": 1, "free": 1})

    def lost(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lost)
    assert check_gpu.main([]) == 1
    assert "NVML failed: GPU is lost" in capsys.readouterr().err
    assert fake_nvml.calls == ["init", "shutdown"]


def test_pynvml_cannot_be_imported(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert check_gpu.main(["--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["usable"] is False
    assert "cannot be imported" in result["error"]


@pytest.mark.skipif(
    driver_library_present(), reason="the NVIDIA driver library is present"
)
def test_real_nvml_without_driver():
    """The real pynvml on a machine without the NVIDIA driver: exit 1, one clear line."""
    proc = subprocess.run(
        [sys.executable, "-m", "lablink_client.check_gpu"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == NO_LIBRARY


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        check_gpu.main(["--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out
