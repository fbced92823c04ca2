from flask import Blueprint, jsonify, render_template

pages = Blueprint("pages", __name__, template_folder="../templates")
ENTRIES = ["first!"]


@pages.get("/")
def index():
    return render_template("index.html", entries=ENTRIES)


@pages.get("/health")
def health():
    return jsonify(ok=True)
