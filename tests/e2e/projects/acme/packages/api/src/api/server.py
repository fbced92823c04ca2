import os

import uvicorn
from fastapi import FastAPI

from shared import greeting

app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/hello/{name}")
def hello(name: str):
    return {"message": greeting(name)}


def print_routes() -> None:
    for route in app.routes:
        print(route.path)


def main() -> None:
    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8100")))
