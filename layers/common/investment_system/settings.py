"""Settings: pydantic models read once per container from environment variables.

Plain pydantic rather than pydantic-settings: the latter adds to every cold start (docs/cold-start.md)
what a table of variable names does here. `ENV_VARS` maps each variable to its place in the model; the
settings table of docs/settings.md lists the same names.
"""

import json
import os
import secrets
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from investment_system import __version__
from investment_system.snapstart import after_restore

# Documented development defaults. Outside dev/test they are refused.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret-change-me-0123456789"
DEFAULT_SQLITE_URL = "sqlite:///.local/invest.db"
MIN_SECRET_BYTES = 32


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    STAGING = "staging"
    PROD = "prod"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], BeforeValidator(_split_csv)]


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecuritySettings(_Group):
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "investment-system"
    jwt_audience: str = "investment-system-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # A rotated refresh token presented again this soon is a retry (two tabs, a lost answer), not theft.
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=300)
    # A session (one login's token family) ends this long after the login, however often it is refreshed.
    refresh_family_max_age_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=60)
    # argon2id; defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    password_min_length: int = Field(default=12, ge=8)
    password_max_length: int = Field(default=128, le=1024)
    password_require_classes: int = Field(default=3, ge=0, le=4)
    payment_webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_tolerance_seconds: int = Field(default=300, gt=0)


class CorsSettings(_Group):
    allowed_origins: CsvList = Field(default_factory=lambda: ["*"])
    max_age_seconds: int = Field(default=600, ge=0, le=86_400)


class RequestLimits(_Group):
    """What a request body may be (http/request_body.py). Bounded so that no setting can reopen a 5xx:
    Lambda takes at most 6 MB, Python's parser recurses per level, and int() takes at most 4300 digits."""

    body_max_bytes: int = Field(default=1024 * 1024, ge=1, le=6 * 1024 * 1024)
    json_max_depth: int = Field(default=32, ge=1, le=256)
    json_max_number_length: int = Field(default=100, ge=1, le=4300)


class DatabaseSettings(_Group):
    url: str = DEFAULT_SQLITE_URL
    echo: bool = False
    # Lambda: one container serves one request at a time, so one connection is enough.
    pool_size: int = Field(default=1, ge=1)
    max_overflow: int = Field(default=0, ge=0)
    pool_recycle_seconds: int = Field(default=300, gt=0)
    # A connection idle for longer is pinged at checkout, for an end the server could not announce
    # (one it announced is seen without a round trip: db/drivers.py).
    ping_after_idle_seconds: float = Field(default=60, ge=0)
    connect_timeout_seconds: int = Field(default=5, gt=0)
    statement_timeout_ms: int = Field(default=10_000, gt=0)
    ssl: bool = False
    connect_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=0.1, ge=0)

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]


class ObservabilitySettings(_Group):
    service_name: str = "investment-system"
    metrics_namespace: str = "InvestmentSystem"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    tracing_enabled: bool = False
    metrics_file: str | None = None


class RateLimitSettings(_Group):
    enabled: bool = True
    backend: Literal["memory", "redis", "dynamodb"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    dynamodb_table: str = "invest-rate-limits"
    anonymous_per_minute: int = Field(default=120, ge=1)
    fail_open: bool = True


class CacheSettings(_Group):
    """The analytics cache (services/signals/analytics_cache.py), on the rate limiter's backend."""

    # How long a user's analytics are served from the cache at most; 0 computes them every time.
    analytics_ttl_seconds: int = Field(default=300, ge=0, le=86_400)


class BillingSettings(_Group):
    # A subscription PAST_DUE for longer than this falls back to free; its plan's quotas hold until then.
    grace_days: int = Field(default=7, ge=0, le=90)
    # Payment events are kept this long (the provider's retries and disputes), then purged.
    payment_event_retention_days: int = Field(default=90, ge=1)


class FeatureFlagSettings(_Group):
    """Where the feature flags come from (services/system/feature_flags.py): AWS AppConfig when an
    application is named, else a local JSON file when one is named, else the flags' defaults."""

    appconfig_application: str = ""
    appconfig_environment: str = ""
    appconfig_profile: str = ""
    file: str = ""
    # How long a container serves the flags it read before asking the store again.
    max_age_seconds: int = Field(default=30, ge=0, le=3600)
    # What a 503 MAINTENANCE_MODE tells clients to wait (Retry-After).
    maintenance_retry_after_seconds: int = Field(default=300, ge=1, le=86_400)


class DeployCheckSettings(_Group):
    """What a gradual deploy's pre-traffic check invokes (services/system/deployment_checks.py): the new
    versions (ARNs) of the health function and of a token-checked read; empty: not checked."""

    health_version: str = ""
    token_read_version: str = ""


class StreamSettings(_Group):
    """Where the real-time stream's pushes go (services/stream/delivery.py); empty: nothing is pushed."""

    # The API Gateway Management API of the WebSocket API: https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
    management_endpoint: str = ""
    # The function a change's transaction asks, once committed, to deliver the user's new events.
    delivery_function: str = ""
    # Events are kept this long for replays (`last_event_id`), then purged.
    event_retention_hours: int = Field(default=24, ge=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Environment = Environment.DEV
    version: str = __version__
    security: SecuritySettings = SecuritySettings()
    cors: CorsSettings = CorsSettings()
    requests: RequestLimits = RequestLimits()
    database: DatabaseSettings = DatabaseSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cache: CacheSettings = CacheSettings()
    billing: BillingSettings = BillingSettings()
    stream: StreamSettings = StreamSettings()
    feature_flags: FeatureFlagSettings = FeatureFlagSettings()
    deploy_checks: DeployCheckSettings = DeployCheckSettings()

    @property
    def is_development(self) -> bool:
        return self.environment in (Environment.DEV, Environment.TEST)

    @model_validator(mode="after")
    def _enforce_production_safety(self) -> Self:
        if self.is_development:
            return self
        env = self.environment.value
        _require_strong_secret("JWT_SECRET", self.security.jwt_secret, DEV_JWT_SECRET, env)
        _require_strong_secret("PAYMENT_WEBHOOK_SECRET", self.security.payment_webhook_secret, DEV_WEBHOOK_SECRET, env)
        if "*" in self.cors.allowed_origins:
            raise ValueError(f"CORS_ALLOWED_ORIGINS must list explicit origins, not '*', when ENVIRONMENT={env}")
        if self.database.url == DEFAULT_SQLITE_URL or self.database.dialect == "sqlite":
            raise ValueError(f"DATABASE_URL must point at PostgreSQL or MySQL when ENVIRONMENT={env}, not SQLite")
        return self


def _require_strong_secret(variable: str, value: str, dev_default: str, env: str) -> None:
    if value == dev_default:
        raise ValueError(f"{variable} is the development default; set a real secret for ENVIRONMENT={env}")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"{variable} must be at least {MIN_SECRET_BYTES} bytes when ENVIRONMENT={env}")


# Environment variable -> (group, field). Group None means a top-level field.
ENV_VARS: dict[str, tuple[str | None, str]] = {
    "ENVIRONMENT": (None, "environment"),
    "DATABASE_URL": ("database", "url"),
    "DATABASE_ECHO": ("database", "echo"),
    "DATABASE_SSL": ("database", "ssl"),
    "DATABASE_CONNECT_TIMEOUT_SECONDS": ("database", "connect_timeout_seconds"),
    "DATABASE_CONNECT_RETRIES": ("database", "connect_retries"),
    "DATABASE_POOL_RECYCLE_SECONDS": ("database", "pool_recycle_seconds"),
    "DATABASE_PING_AFTER_IDLE_SECONDS": ("database", "ping_after_idle_seconds"),
    "JWT_SECRET": ("security", "jwt_secret"),
    "JWT_ALGORITHM": ("security", "jwt_algorithm"),
    "JWT_ISSUER": ("security", "jwt_issuer"),
    "JWT_AUDIENCE": ("security", "jwt_audience"),
    "ACCESS_TOKEN_TTL_SECONDS": ("security", "access_token_ttl_seconds"),
    "REFRESH_TOKEN_TTL_SECONDS": ("security", "refresh_token_ttl_seconds"),
    "REFRESH_REUSE_GRACE_SECONDS": ("security", "refresh_reuse_grace_seconds"),
    "REFRESH_FAMILY_MAX_AGE_SECONDS": ("security", "refresh_family_max_age_seconds"),
    "ARGON2_MEMORY_KIB": ("security", "argon2_memory_kib"),
    "ARGON2_TIME_COST": ("security", "argon2_time_cost"),
    "ARGON2_PARALLELISM": ("security", "argon2_parallelism"),
    "LOCKOUT_THRESHOLD": ("security", "lockout_threshold"),
    "LOCKOUT_MINUTES": ("security", "lockout_minutes"),
    "PASSWORD_MIN_LENGTH": ("security", "password_min_length"),
    "PASSWORD_MAX_LENGTH": ("security", "password_max_length"),
    "PASSWORD_REQUIRE_CLASSES": ("security", "password_require_classes"),
    "PAYMENT_WEBHOOK_SECRET": ("security", "payment_webhook_secret"),
    "WEBHOOK_TOLERANCE_SECONDS": ("security", "webhook_tolerance_seconds"),
    "CORS_ALLOWED_ORIGINS": ("cors", "allowed_origins"),
    "CORS_MAX_AGE_SECONDS": ("cors", "max_age_seconds"),
    "REQUEST_BODY_MAX_BYTES": ("requests", "body_max_bytes"),
    "REQUEST_JSON_MAX_DEPTH": ("requests", "json_max_depth"),
    "REQUEST_JSON_MAX_NUMBER_LENGTH": ("requests", "json_max_number_length"),
    "SERVICE_NAME": ("observability", "service_name"),
    "METRICS_NAMESPACE": ("observability", "metrics_namespace"),
    "LOG_LEVEL": ("observability", "log_level"),
    "TRACING_ENABLED": ("observability", "tracing_enabled"),
    "METRICS_FILE": ("observability", "metrics_file"),
    "RATE_LIMIT_ENABLED": ("rate_limit", "enabled"),
    "RATE_LIMIT_BACKEND": ("rate_limit", "backend"),
    "REDIS_URL": ("rate_limit", "redis_url"),
    "RATE_LIMIT_TABLE": ("rate_limit", "dynamodb_table"),
    "RATE_LIMIT_ANONYMOUS_PER_MINUTE": ("rate_limit", "anonymous_per_minute"),
    "RATE_LIMIT_FAIL_OPEN": ("rate_limit", "fail_open"),
    "ANALYTICS_CACHE_TTL_SECONDS": ("cache", "analytics_ttl_seconds"),
    "BILLING_GRACE_DAYS": ("billing", "grace_days"),
    "STREAM_MANAGEMENT_ENDPOINT": ("stream", "management_endpoint"),
    "STREAM_DELIVERY_FUNCTION": ("stream", "delivery_function"),
    "STREAM_EVENT_RETENTION_HOURS": ("stream", "event_retention_hours"),
    "PAYMENT_EVENT_RETENTION_DAYS": ("billing", "payment_event_retention_days"),
    "FEATURE_FLAGS_APPCONFIG_APPLICATION": ("feature_flags", "appconfig_application"),
    "FEATURE_FLAGS_APPCONFIG_ENVIRONMENT": ("feature_flags", "appconfig_environment"),
    "FEATURE_FLAGS_APPCONFIG_PROFILE": ("feature_flags", "appconfig_profile"),
    "FEATURE_FLAGS_FILE": ("feature_flags", "file"),
    "FEATURE_FLAGS_MAX_AGE_SECONDS": ("feature_flags", "max_age_seconds"),
    "MAINTENANCE_RETRY_AFTER_SECONDS": ("feature_flags", "maintenance_retry_after_seconds"),
    "DEPLOY_CHECK_HEALTH_VERSION": ("deploy_checks", "health_version"),
    "DEPLOY_CHECK_TOKEN_READ_VERSION": ("deploy_checks", "token_read_version"),
}

# Secrets may instead come from AWS Secrets Manager: VAR_ARN names the secret holding VAR.
SECRET_ARN_VARS = {"JWT_SECRET_ARN": "JWT_SECRET", "PAYMENT_WEBHOOK_SECRET_ARN": "PAYMENT_WEBHOOK_SECRET"}
# An RDS-managed secret (JSON with username, password, host, port, dbname) builds DATABASE_URL.
DATABASE_SECRET_ARN_VAR = "DATABASE_SECRET_ARN"
# What a Lambda function given no database has instead: a host that cannot resolve (RFC 2606's `.invalid`).
NO_DATABASE_URL = "postgresql+pg8000://no-database.invalid/none"


class SettingsError(RuntimeError):
    """The configuration is unusable; the message names the variable to fix."""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate settings from environment variables (and Secrets Manager ARNs)."""
    env = dict(os.environ if environ is None else environ)
    _stand_in_for_unused_secrets(env)
    _resolve_secret_arns(env)
    raw: dict[str, Any] = {}
    for variable, (group, field) in ENV_VARS.items():
        if variable not in env or env[variable] == "":
            continue
        target = raw if group is None else raw.setdefault(group, {})
        target[field] = env[variable]
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _stand_in_for_unused_secrets(env: dict[str, str]) -> None:
    """Outside dev, a Lambda function given neither a secret nor its ARN does not use it (template.yaml gives
    each function only what its code reads, and IAM lets it read only that): an unguessable value of its own
    stands in, so that nothing it signs or verifies with it matches the real secret; given no database, it has
    none (any use fails to connect: a retryable 503). Any other process (the `invest` commands) is refused
    start-up without the secret, as the contract says."""
    if env.get("ENVIRONMENT", Environment.DEV.value) in (Environment.DEV.value, Environment.TEST.value):
        return
    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    for arn_variable, variable in SECRET_ARN_VARS.items():
        if variable not in env and arn_variable not in env:
            env[variable] = secrets.token_urlsafe(48)
    # The template declares DATABASE_URL empty for every function (`sam local` may set only declared ones).
    if not env.get("DATABASE_URL") and DATABASE_SECRET_ARN_VAR not in env:
        env["DATABASE_URL"] = NO_DATABASE_URL


def _resolve_secret_arns(env: dict[str, str]) -> None:
    arns = {var: env[arn_var] for arn_var, var in SECRET_ARN_VARS.items() if env.get(arn_var)}
    db_arn = env.get(DATABASE_SECRET_ARN_VAR)
    if not arns and not db_arn:
        return
    # Powertools Parameters caches secrets per container; boto3 is imported only on this path.
    from aws_lambda_powertools.utilities import parameters

    for variable, arn in arns.items():
        try:
            env[variable] = str(parameters.get_secret(arn, max_age=300))
        except Exception as exc:
            raise SettingsError(f"{variable}_ARN: cannot read secret {arn}: {type(exc).__name__}") from None
    if db_arn:
        try:
            secret = json.loads(str(parameters.get_secret(db_arn, max_age=300)))
        except Exception as exc:
            raise SettingsError(
                f"{DATABASE_SECRET_ARN_VAR}: cannot read secret {db_arn}: {type(exc).__name__}"
            ) from None
        env["DATABASE_URL"] = database_url_from_secret(secret, env.get("DATABASE_HOST"))


def database_url_from_secret(secret: Mapping[str, Any], host_override: str | None = None) -> str:
    """An RDS secret becomes a SQLAlchemy URL; DATABASE_HOST (an RDS Proxy endpoint) may replace its host."""
    from sqlalchemy.engine import URL

    engine = str(secret.get("engine", "postgres"))
    drivername = "mysql+pymysql" if engine in ("mysql", "mariadb") else "postgresql+pg8000"
    url = URL.create(
        drivername,
        username=secret["username"],
        password=secret["password"],
        host=host_override or secret["host"],
        port=int(secret["port"]) if secret.get("port") else None,
        database=secret.get("dbname"),
    )
    return url.render_as_string(hide_password=False)


def _describe(exc: ValidationError) -> str:
    variables = {(group, field): variable for variable, (group, field) in ENV_VARS.items()}
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        key: tuple[str | None, str] = (loc[0], loc[1]) if len(loc) >= 2 else (None, loc[0] if loc else "")
        name = variables.get(key) or ".".join(loc) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if not loc else f"{name}: {message}")
    return "Invalid configuration: " + "; ".join(problems)


@cache
def get_settings() -> Settings:
    """The container's settings, validated once at cold start."""
    return load_settings()


# Secrets may have rotated between the snapshot and its restore: read them again on first use.
after_restore(get_settings.cache_clear)
