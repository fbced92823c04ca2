from fastapi import APIRouter
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.core.config import database_url
from app.models import Book

router = APIRouter()
_engine = None


def engine():
    global _engine
    if _engine is None:
        _engine = create_engine(database_url(), pool_pre_ping=True)
    return _engine


@router.get("/utils/health-check/")
def health_check() -> bool:
    return True


@router.get("/books")
def list_books() -> list[str]:
    with Session(engine()) as session:
        return [b.title for b in session.scalars(select(Book).order_by(Book.id))]


@router.post("/books/{title}")
def add_book(title: str) -> dict:
    with Session(engine()) as session:
        session.add(Book(title=title))
        session.commit()
    return {"added": title}
