"""The allocator's HTTP API."""

import os
import signal
import sys

from flask import Flask, jsonify, request

from . import __version__

app = Flask(__name__)

# VM name -> the student using it (None when free). A real deployment keeps
# this in PostgreSQL (see generate-init-sql); memory is enough for one process.
VMS = {f"vm-{i}": None for i in range(1, 4)}


@app.get("/health")
def health():
    return jsonify(status="ok", version=__version__, python=sys.version.split()[0])


@app.get("/vms")
def list_vms():
    return jsonify({name: user for name, user in sorted(VMS.items())})


@app.post("/vms/request")
def request_vm():
    user = (request.get_json(silent=True) or {}).get("user")
    if not user:
        return jsonify(error="user is required"), 400
    for name, holder in sorted(VMS.items()):
        if holder is None:
            VMS[name] = user
            return jsonify(vm=name, user=user)
    return jsonify(error="no VM is free"), 503


def main() -> None:
    # stop promptly when the container is stopped (PID 1 ignores SIGTERM otherwise)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host = os.environ.get("ALLOCATOR_HOST", "127.0.0.1")
    port = int(os.environ.get("ALLOCATOR_PORT", "5000"))
    app.run(host=host, port=port)


if __name__ == "__main__":
    main()
