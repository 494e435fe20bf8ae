"""Feature flags, read through Powertools' feature flags: `maintenance` and `registration_open`.

The document comes from AWS AppConfig in AWS, from a local JSON file under `invest serve` (read again
when it changes), else nothing (every flag its default); each container keeps what it read for
FEATURE_FLAGS_MAX_AGE_SECONDS. A store that cannot be read, or a document Powertools' schema refuses,
leaves the last good document in force (the defaults before any), logged: a flag never causes a 5xx.
Rules may match the caller's `role` and `plan`. docs/operations.md#feature-flags.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The package's __init__ is deferred (lazy_packages.py): these load without the AppConfig store's boto3.
from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider
from aws_lambda_powertools.utilities.feature_flags.exceptions import ConfigurationStoreError

from investment_system.observability import logger
from investment_system.settings import FeatureFlagSettings, get_settings
from investment_system.snapstart import after_restore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.feature_flags.feature_flags import FeatureFlags


class Flag(StrEnum):
    MAINTENANCE = "maintenance"  # routes that change data answer 503 MAINTENANCE_MODE (admins excepted)
    REGISTRATION_OPEN = "registration_open"  # off: POST /v1/auth/register answers 403 REGISTRATION_CLOSED


# What each flag is when the document does not say, or no document could ever be read.
DEFAULTS: dict[Flag, bool] = {Flag.MAINTENANCE: False, Flag.REGISTRATION_OPEN: True}
# The same as a flags document (Powertools' schema): what serves while no document was read.
DEFAULT_DOCUMENT: dict[str, Any] = {flag.value: {"default": value} for flag, value in DEFAULTS.items()}


@dataclass(frozen=True, slots=True)
class FlagContext:
    """Who asks: what a flag's rule conditions may match (`role`, `plan`); absent for an anonymous caller."""

    role: str | None = None
    plan: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in (("role", self.role), ("plan", self.plan)) if value is not None}


def flag_enabled(flag: Flag, context: FlagContext | None = None) -> bool:
    """The flag's value for this caller."""
    context_values = (context or FlagContext()).as_dict()
    return bool(_feature_flags().evaluate(name=flag.value, context=context_values, default=DEFAULTS[flag]))


@cache
def _feature_flags() -> FeatureFlags:
    """The container's flags, made on first use: only a request that reads a flag loads the store."""
    from aws_lambda_powertools.utilities.feature_flags.feature_flags import FeatureFlags

    settings = get_settings().feature_flags
    return FeatureFlags(store=LastGoodStore(_source(settings), settings.max_age_seconds), logger=logger)


after_restore(_feature_flags.cache_clear)


def _source(settings: FeatureFlagSettings) -> StoreProvider:
    if settings.appconfig_application:
        from aws_lambda_powertools.utilities.feature_flags.appconfig import AppConfigStore
        from botocore.config import Config

        # Short timeouts, no retry: a slow AppConfig must not hold requests; the last good document serves.
        config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1, "mode": "standard"})
        return AppConfigStore(
            environment=settings.appconfig_environment,
            application=settings.appconfig_application,
            name=settings.appconfig_profile,
            max_age=settings.max_age_seconds,
            boto_config=config,
            logger=logger,
        )
    if settings.file:
        return JsonFileStore(Path(settings.file))
    return DocumentStore(DEFAULT_DOCUMENT)


class DocumentStore(StoreProvider):
    """One fixed document (no store configured: the defaults)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        return self._document

    def get_configuration(self) -> dict[str, Any]:
        return self._document


class JsonFileStore(StoreProvider):
    """The document in a local JSON file, parsed again when the file changes (edited while it serves)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._version: tuple[int, int] | None = None
        self._document: dict[str, Any] = {}

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        try:
            stat = self.path.stat()
            if (stat.st_mtime_ns, stat.st_size) != self._version:
                document = json.loads(self.path.read_bytes())
                if not isinstance(document, dict):
                    raise ValueError("the document is not a JSON object")
                self._document, self._version = document, (stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError) as error:
            raise ConfigurationStoreError(f"{self.path}: {type(error).__name__}: {error}") from error
        return self._document

    def get_configuration(self) -> dict[str, Any]:
        return self.get_raw_configuration


class LastGoodStore(StoreProvider):
    """`source`, except that a failure to read it, or a document the schema refuses, gives the last
    document read and validated (the defaults before any), logged. The source is asked again only
    `retry_after_seconds` later, so an outage does not cost every request a timeout."""

    def __init__(self, source: StoreProvider, retry_after_seconds: float) -> None:
        self.source = source
        self.retry_after_seconds = retry_after_seconds
        self._good: dict[str, Any] = DEFAULT_DOCUMENT
        self._failed_until = 0.0

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        return self.get_configuration()

    def get_configuration(self) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.feature_flags.schema import SchemaValidator

        if time.monotonic() < self._failed_until:
            return self._good
        try:
            document = self.source.get_configuration()
            if document is not self._good:
                SchemaValidator(schema=document, logger=logger).validate()
        except Exception as error:  # whatever the store does wrong, the flags stay as they were
            self._failed_until = time.monotonic() + self.retry_after_seconds
            logger.warning(
                "Feature flags unreadable; the last good ones stay in force",
                extra={"store": type(self.source).__name__, "error_type": type(error).__name__, "error": str(error)},
            )
            return self._good
        self._good = document
        return document
