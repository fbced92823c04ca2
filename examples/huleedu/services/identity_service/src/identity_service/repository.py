"""An in-memory user store."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from common_core import User, UserCreate


class DuplicateEmail(Exception):
    pass


class UserRepository:
    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._by_email: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def add(self, new: UserCreate) -> User:
        async with self._lock:
            if new.email in self._by_email:
                raise DuplicateEmail(new.email)
            user = User(
                id=uuid.uuid4().hex,
                email=new.email,
                display_name=new.display_name,
                created_at=datetime.now(UTC),
            )
            self._users[user.id] = user
            self._by_email[user.email] = user.id
            return user

    async def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def count(self) -> int:
        return len(self._users)
