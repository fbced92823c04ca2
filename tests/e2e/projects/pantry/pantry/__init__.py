import os
from pathlib import Path

from flask import Flask, jsonify, render_template, request

UPLOADS = Path(os.environ.get("UPLOAD_DIR", Path(__file__).resolve().parent.parent / "uploads"))


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/")
    def index():
        return render_template("index.html", items=["flour", "rice"])

    @app.put("/uploads/<name>")
    def upload(name):
        (UPLOADS / name).write_bytes(request.get_data())
        return jsonify(saved=name)

    return app
