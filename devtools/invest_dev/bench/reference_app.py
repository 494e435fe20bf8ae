"""The reference `make bench` measures every function against: the API as one FastAPI app behind Mangum.

One module, as the single app that one function per endpoint replaces would be written (SQLAlchemy
ORM models, pydantic, PyJWT, argon2), serving GET /v1/health, POST /v1/auth/login, GET /v1/signals
and GET /v1/signals/{id} on the functions' database with the same work for each. It runs with
`python -S` on its own runtime dependencies (REQUIREMENTS) and imports nothing of `investment_system`
or `invest_dev`: the settings it shares with the functions come from the environment.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from mangum import Mangum
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    Uuid,
    create_engine,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

# What `make bench` installs for it (at constraints.txt's pins), apart from the functions' layer.
REQUIREMENTS = ["fastapi", "mangum", "SQLAlchemy", "pydantic", "email-validator", "PyJWT", "argon2-cffi"]

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///.local/invest.db")
JWT_SECRET = os.environ.get("JWT_SECRET", "dev-only-jwt-secret-change-me-0123456789abcdef")
JWT_ISSUER = os.environ.get("JWT_ISSUER", "investment-system")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "investment-system-api")
ACCESS_TTL = timedelta(seconds=int(os.environ.get("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)))
REFRESH_TTL = timedelta(seconds=int(os.environ.get("REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600)))
hasher = PasswordHasher(
    time_cost=int(os.environ.get("ARGON2_TIME_COST", 2)),
    memory_cost=int(os.environ.get("ARGON2_MEMORY_KIB", 19 * 1024)),
    parallelism=int(os.environ.get("ARGON2_PARALLELISM", 1)),
)
engine = create_engine(DATABASE_URL, pool_pre_ping=True)
SessionLocal = sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Price(TypeDecorator[Decimal]):
    """NUMERIC(18, scale); on SQLite the functions' layer stores a decimal as a scaled integer."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 8) -> None:
        super().__init__(18, scale, asdecimal=True)
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else Numeric(18, self.scale))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale) if dialect.name == "sqlite" else Decimal(value)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean)
    token_epoch: Mapped[int] = mapped_column(Integer)


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Signal(Base):
    __tablename__ = "signals"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    symbol: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(4))
    confidence: Mapped[Decimal] = mapped_column(Price(4))
    entry_price: Mapped[Decimal] = mapped_column(Price())
    target_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_loss: Mapped[Decimal | None] = mapped_column(Price())
    timeframe: Mapped[str] = mapped_column(String(3))
    strategy: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    exit_price: Mapped[Decimal | None] = mapped_column(Price())
    return_pct: Mapped[Decimal | None] = mapped_column(Price(4))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Credentials(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme, not a secret)
    expires_in: int


class SignalOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    symbol: str
    direction: str
    confidence: float
    entry_price: str
    target_price: str | None
    stop_loss: str | None
    timeframe: str
    strategy: str | None
    notes: str | None
    status: str
    exit_price: str | None
    return_pct: str | None
    expires_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SignalPage(BaseModel):
    items: list[SignalOut]
    next_cursor: str | None


app = FastAPI(title="Investment System API (reference monolith)")


def db() -> Any:
    with SessionLocal.begin() as session:
        yield session


Database = Annotated[Session, Depends(db)]


def caller(session: Database, authorization: Annotated[str, Header()] = "") -> User:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401, "AUTHENTICATION_REQUIRED")
    try:
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience=JWT_AUDIENCE, issuer=JWT_ISSUER)
    except jwt.PyJWTError:
        raise HTTPException(401, "TOKEN_INVALID") from None
    row = session.execute(
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(User.id == uuid.UUID(claims["sub"]), UserSession.id == uuid.UUID(claims["sid"]))
    ).first()
    if row is None or row.UserSession.revoked_at is not None or row.User.token_epoch != claims["epoch"]:
        raise HTTPException(401, "TOKEN_REVOKED")
    if not row.User.is_active:
        raise HTTPException(403, "ACCOUNT_DISABLED")
    user: User = row.User
    return user


Caller = Annotated[User, Depends(caller)]


def _token(user: User, session_id: uuid.UUID, kind: str, now: datetime, ttl: timedelta) -> str:
    claims = {
        "sub": str(user.id), "role": user.role, "type": kind, "sid": str(session_id), "epoch": user.token_epoch,
        "iat": now, "nbf": now, "exp": now + ttl, "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "jti": str(uuid.uuid4()),
    }  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _signal_out(signal: Signal) -> SignalOut:
    return SignalOut(
        id=signal.id,
        user_id=signal.user_id,
        symbol=signal.symbol,
        direction=signal.direction,
        confidence=float(signal.confidence),
        entry_price=f"{signal.entry_price.normalize():f}",
        target_price=_text(signal.target_price),
        stop_loss=_text(signal.stop_loss),
        timeframe=signal.timeframe,
        strategy=signal.strategy,
        notes=signal.notes,
        status=signal.status,
        exit_price=_text(signal.exit_price),
        return_pct=_text(signal.return_pct),
        expires_at=signal.expires_at,
        closed_at=signal.closed_at,
        created_at=signal.created_at,
        updated_at=signal.updated_at,
    )


@app.get("/v1/health")
def health() -> dict[str, Any]:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "healthy", "dependencies": {"database": {"status": "up"}}}


@app.post("/v1/auth/login")
def login(credentials: Credentials, session: Database) -> TokenPair:
    user = session.scalars(select(User).where(User.email == credentials.email.lower())).first()
    try:
        if user is None:
            raise VerificationError
        hasher.verify(user.password_hash, credentials.password)
    except VerificationError:
        raise HTTPException(401, "INVALID_CREDENTIALS") from None
    now = datetime.now(UTC)
    user_session = UserSession(
        id=uuid.uuid4(), user_id=user.id, expires_at=now + timedelta(days=30), created_at=now, updated_at=now
    )
    session.add(user_session)
    return TokenPair(
        access_token=_token(user, user_session.id, "access", now, ACCESS_TTL),
        refresh_token=_token(user, user_session.id, "refresh", now, REFRESH_TTL),
        expires_in=int(ACCESS_TTL.total_seconds()),
    )


@app.get("/v1/signals")
def list_signals(
    user: Caller, session: Database, limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: str | None = None
) -> SignalPage:
    statement = select(Signal).where(Signal.user_id == user.id, Signal.deleted_at.is_(None))
    if cursor:
        created, signal_id = json.loads(base64.urlsafe_b64decode(cursor))
        after = datetime.fromisoformat(created)
        statement = statement.where(
            (Signal.created_at < after) | ((Signal.created_at == after) & (Signal.id < uuid.UUID(signal_id)))
        )
    rows = session.scalars(statement.order_by(Signal.created_at.desc(), Signal.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = base64.urlsafe_b64encode(json.dumps([last.created_at.isoformat(), str(last.id)]).encode())
    return SignalPage(items=[_signal_out(s) for s in page], next_cursor=next_cursor and next_cursor.decode())


@app.get("/v1/signals/{signal_id}")
def get_signal(signal_id: uuid.UUID, user: Caller, session: Database) -> SignalOut:
    signal = session.scalars(
        select(Signal).where(Signal.id == signal_id, Signal.user_id == user.id, Signal.deleted_at.is_(None))
    ).first()
    if signal is None:
        raise HTTPException(404, "SIGNAL_NOT_FOUND")
    return _signal_out(signal)


handler = Mangum(app, lifespan="off")
