import os


def database_url() -> str:
    return os.environ.get("DATABASE_URL", "postgresql+psycopg2://bookshelf@127.0.0.1:5432/bookshelf")


GREETING = os.environ.get("GREETING", "Welcome")
