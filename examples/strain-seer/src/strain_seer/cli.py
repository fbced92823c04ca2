"""The ``strain-seer`` command: serve the app with Streamlit.

It replaces itself (``exec``) with ``python -m streamlit run .../app.py`` so
that Streamlit is the process a container's SIGTERM reaches, and it stops
cleanly on it.

Environment:

* ``STREAMLIT_SERVER_PORT`` — port to listen on (default 8501).
* ``STREAMLIT_SERVER_ADDRESS`` — address to bind (default 0.0.0.0).
* ``TMPDIR`` — where temporary files go; created if missing.  Matplotlib's
  config and font cache go to ``$TMPDIR/matplotlib`` unless ``MPLCONFIGDIR``
  is set, so nothing is written under ``$HOME``.

Any further arguments are passed to ``streamlit run`` as options, after the
ones above, so they win (e.g. ``strain-seer --logger.level debug``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

APP_PATH = Path(__file__).resolve().with_name("app.py")
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "0.0.0.0"

USAGE = """\
usage: strain-seer [STREAMLIT-RUN-OPTION ...]

Serve the Strain Seer app with Streamlit (headless, no usage statistics).
Port and address come from STREAMLIT_SERVER_PORT (default 8501) and
STREAMLIT_SERVER_ADDRESS (default 0.0.0.0). Health check: /_stcore/health.
"""


def server_port(env: Mapping[str, str]) -> int:
    raw = env.get("STREAMLIT_SERVER_PORT", "").strip() or str(DEFAULT_PORT)
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"strain-seer: STREAMLIT_SERVER_PORT is not a number: {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SystemExit(f"strain-seer: STREAMLIT_SERVER_PORT out of range 1-65535: {port}")
    return port


def server_address(env: Mapping[str, str]) -> str:
    return env.get("STREAMLIT_SERVER_ADDRESS", "").strip() or DEFAULT_ADDRESS


def streamlit_command(env: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    """The argv that serves the app; options must precede the script path."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "--server.port",
        str(server_port(env)),
        "--server.address",
        server_address(env),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        *extra,
        str(APP_PATH),
    ]


def prepare_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with TMPDIR created and MPLCONFIGDIR under it."""
    out = dict(env)
    tmpdir = out.get("TMPDIR")
    if tmpdir:
        try:
            os.makedirs(tmpdir, exist_ok=True)
        except OSError as exc:
            print(f"strain-seer: cannot create TMPDIR {tmpdir}: {exc}", file=sys.stderr)
    # gettempdir() honours TMPDIR when it is a writable directory.
    base = tmpdir if tmpdir and os.path.isdir(tmpdir) else tempfile.gettempdir()
    out.setdefault("MPLCONFIGDIR", os.path.join(base, "matplotlib"))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    env = prepare_environment(os.environ)
    cmd = streamlit_command(env, args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
