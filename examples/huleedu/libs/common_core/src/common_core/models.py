"""Pydantic models shared by the services' HTTP APIs."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class HealthStatus(BaseModel):
    status: str = "ok"
    service: str
    version: str


class ErrorResponse(BaseModel):
    error: str
    detail: object | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(max_length=254)
    display_name: str = Field(min_length=1, max_length=100)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value.lower()


class User(BaseModel):
    id: str
    email: str
    display_name: str
    created_at: datetime


class ContentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=1_000_000)
    title: str | None = Field(default=None, max_length=200)


class ContentItem(BaseModel):
    id: str
    title: str | None
    text: str
    word_count: int
    created_at: datetime
