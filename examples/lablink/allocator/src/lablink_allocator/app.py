"""The allocator's HTTP API."""

import os
import signal
import sys

from flask import Flask, jsonify, request
from werkzeug.routing import BaseConverter

from . import __version__


class VMNameConverter(BaseConverter):
    """A VM name in a URL: any segment but "request", which /vms/request owns."""

    regex = r"(?!request$)[^/]+"


app = Flask(__name__)
app.url_map.converters["vm"] = VMNameConverter

# VM name -> the student using it (None when free). A real deployment keeps
# this in PostgreSQL (see generate-init-sql); memory is enough for one process.
VMS = {f"vm-{i}": None for i in range(1, 4)}
# VM name -> whether its client reports it in use (see update_inuse_status).
IN_USE = {name: False for name in VMS}


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


@app.get("/vms/<vm:name>")
def get_vm(name):
    if name not in VMS:
        return jsonify(error=f"unknown VM: {name}"), 404
    return jsonify(vm=name, user=VMS[name], in_use=IN_USE.get(name, False))


@app.post("/vms/<name>/in-use")
def set_in_use(name):
    if name not in VMS:
        return jsonify(error=f"unknown VM: {name}"), 404
    body = request.get_json(silent=True)
    in_use = body.get("in_use") if isinstance(body, dict) else None
    if not isinstance(in_use, bool):
        return jsonify(error="in_use (true or false) is required"), 400
    IN_USE[name] = in_use
    return jsonify(vm=name, in_use=in_use)


def main() -> None:
    # stop promptly when the container is stopped (PID 1 ignores SIGTERM otherwise)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host = os.environ.get("ALLOCATOR_HOST", "127.0.0.1")
    port = int(os.environ.get("ALLOCATOR_PORT", "5000"))
    app.run(host=host, port=port)


if __name__ == "__main__":
    main()
