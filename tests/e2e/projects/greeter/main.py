import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.get("/")
def hello():
    return {"message": f"{os.environ.get('GREETING', 'hi')}, {os.environ.get('TARGET', 'world')}"}
