"""check_gpu: ask NVML whether this machine has a usable NVIDIA GPU."""

import argparse
import json
import sys

PROG = "check_gpu"
HINT = (
    "run the container with --gpus all on a host with the NVIDIA driver "
    "and container toolkit"
)
MIB = 1024 * 1024


def _nvml_error_message(pynvml, exc) -> str:
    """Why NVML failed, in words a user can act on."""
    known = [
        (
            "NVMLError_LibraryNotFound",
            f"the NVIDIA driver library (libnvidia-ml.so.1) was not found; {HINT}",
        ),
        (
            "NVMLError_DriverNotLoaded",
            (
                "the NVIDIA driver library was found but the kernel driver is not "
                "loaded; check that nvidia-smi works on the host"
            ),
        ),
        (
            "NVMLError_NoPermission",
            "no permission to use the NVIDIA devices (/dev/nvidia*)",
        ),
        (
            "NVMLError_LibRmVersionMismatch",
            (
                "the NVIDIA driver library and the loaded kernel driver have "
                "different versions; reload the driver or reboot the host"
            ),
        ),
    ]
    for name, message in known:
        cls = getattr(pynvml, name, None)
        if cls is not None and isinstance(exc, cls):
            return message
    return f"NVML failed: {exc}"


def probe() -> dict:
    """Ask NVML for the GPUs: {"usable": bool, "devices": [...], "error": str|None}."""
    devices = []
    try:
        import pynvml
    except ImportError as exc:
        error = (
            f"the NVML binding (pynvml, from nvidia-ml-py) cannot be imported: {exc}"
        )
        return {"usable": False, "devices": devices, "error": error}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return {
            "usable": False,
            "devices": devices,
            "error": _nvml_error_message(pynvml, exc),
        }
    error = None
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            devices.append(
                {
                    "index": index,
                    "name": name.decode() if isinstance(name, bytes) else name,
                    "memory_total_bytes": int(memory.total),
                    "memory_free_bytes": int(memory.free),
                }
            )
    except pynvml.NVMLError as exc:
        error = _nvml_error_message(pynvml, exc)
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
    if error is None and not devices:
        error = (
            "the NVIDIA driver is loaded but reports 0 GPUs; run the container with "
            "--gpus all (or check NVIDIA_VISIBLE_DEVICES)"
        )
    return {"usable": error is None, "devices": devices, "error": error}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ask NVML (the NVIDIA driver's management library) whether a GPU "
        "is usable, and list each GPU with its memory.",
        epilog="exit codes: 0 at least one GPU is usable, 1 no usable GPU "
        "(the reason is printed on stderr)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"usable": bool, "devices": [...], "error": str|null} on stdout',
    )
    args = parser.parse_args(argv)
    result = probe()
    if args.json:
        print(json.dumps(result))
    else:
        for dev in result["devices"]:
            total, free = (
                dev["memory_total_bytes"] // MIB,
                dev["memory_free_bytes"] // MIB,
            )
            print(
                f"GPU {dev['index']}: {dev['name']}, {total} MiB total, {free} MiB free"
            )
    if result["error"]:
        print(f"{PROG}: no usable GPU: {result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
