from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

NOTES = ["buy milk"]


async def health(request):
    return PlainTextResponse("ok")


async def notes(request):
    return JSONResponse({"notes": NOTES})


app = Starlette(routes=[Route("/health", health), Route("/notes", notes)])
