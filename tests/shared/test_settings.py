"""Settings: environment variables, nested groups, production safety, Secrets Manager."""

import json

import boto3
import pytest
from moto import mock_aws
from sqlalchemy.engine import make_url

from investment_system.settings import (
    DEV_JWT_SECRET,
    DEV_WEBHOOK_SECRET,
    NO_DATABASE_URL,
    Environment,
    SettingsError,
    load_settings,
)

STRONG = "s" * 40
PROD = {
    "ENVIRONMENT": "prod",
    "JWT_SECRET": STRONG,
    "PAYMENT_WEBHOOK_SECRET": "w" * 40,
    "CORS_ALLOWED_ORIGINS": "https://app.example.com",
    "DATABASE_URL": "postgresql+pg8000://app:pw@db.internal:5432/invest",
}


def test_dev_defaults_need_no_configuration():
    # Given no environment at all / When settings load / Then development defaults apply
    settings = load_settings({})
    assert settings.environment is Environment.DEV
    assert settings.database.url.startswith("sqlite:///")
    assert settings.security.jwt_secret == DEV_JWT_SECRET
    assert settings.rate_limit.anonymous_per_minute == 120


def test_variables_fill_nested_groups_and_comma_separated_lists():
    settings = load_settings(
        {
            "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example ,",
            "RATE_LIMIT_BACKEND": "redis",
            "REDIS_URL": "redis://cache:6379/1",
            "RATE_LIMIT_ANONYMOUS_PER_MINUTE": "30",
            "TRACING_ENABLED": "true",
        }
    )
    assert settings.cors.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.rate_limit.backend == "redis"
    assert settings.rate_limit.redis_url == "redis://cache:6379/1"
    assert settings.rate_limit.anonymous_per_minute == 30
    assert settings.observability.tracing_enabled is True


def test_production_with_strong_secrets_starts():
    settings = load_settings(PROD)
    assert settings.environment is Environment.PROD
    assert settings.database.dialect == "postgresql"


@pytest.mark.parametrize(
    ("override", "named_variable"),
    [
        ({"JWT_SECRET": DEV_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "short-secret"}, "JWT_SECRET"),
        ({"JWT_SECRET": ""}, "JWT_SECRET"),
        ({"PAYMENT_WEBHOOK_SECRET": "tiny"}, "PAYMENT_WEBHOOK_SECRET"),
        ({"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///prod.db"}, "DATABASE_URL"),
        ({"RATE_LIMIT_BACKEND": "carrier-pigeon"}, "RATE_LIMIT_BACKEND"),
        ({"ENVIRONMENT": "production"}, "ENVIRONMENT"),
    ],
)
def test_unsafe_production_configuration_is_refused_naming_the_variable(override, named_variable):
    # Given a production configuration with one unsafe value
    environ = {**PROD, **override}
    # When settings load / Then start-up fails with a message naming the variable
    with pytest.raises(SettingsError) as failure:
        load_settings(environ)
    assert named_variable in str(failure.value)


def test_a_function_given_neither_a_secret_nor_its_arn_starts_and_can_verify_nothing_with_it():
    # Given a production Lambda function given the JWT key but neither the webhook secret nor its ARN (it does
    # not verify payments: the template gives it no access to that secret)
    environ = {key: value for key, value in PROD.items() if key != "PAYMENT_WEBHOOK_SECRET"}
    environ["AWS_LAMBDA_FUNCTION_NAME"] = "stack-get-signal"
    # When two containers start
    first, second = load_settings(environ), load_settings(environ)
    # Then they start, each with an unguessable stand-in, never the development default
    secret = first.security.payment_webhook_secret
    assert len(secret) >= 48
    assert secret not in (DEV_WEBHOOK_SECRET, second.security.payment_webhook_secret)
    # And one given the ARN's variable, even empty, uses the secret: without it, start-up is refused
    with pytest.raises(SettingsError, match="PAYMENT_WEBHOOK_SECRET"):
        load_settings({**environ, "PAYMENT_WEBHOOK_SECRET_ARN": ""})


def test_a_function_given_no_database_starts_with_one_no_connection_can_reach():
    # Given a production Lambda function given neither the database's URL nor its secret's ARN (it opens no
    # database: the template gives it no access to that secret), with DATABASE_URL declared empty
    environ = {key: value for key, value in PROD.items() if key != "DATABASE_URL"}
    environ |= {"AWS_LAMBDA_FUNCTION_NAME": "stack-docs", "DATABASE_URL": ""}
    # When it starts
    settings = load_settings(environ)
    # Then it starts on a host that cannot resolve, never on SQLite
    assert settings.database.url == NO_DATABASE_URL
    assert make_url(settings.database.url).host.endswith(".invalid")
    # And one given the secret's ARN, even empty, uses the database: without it, start-up is refused
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({**environ, "DATABASE_SECRET_ARN": ""})
    # And so is a process outside Lambda
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({key: value for key, value in environ.items() if key != "AWS_LAMBDA_FUNCTION_NAME"})


@pytest.mark.parametrize("secret", ["JWT_SECRET", "PAYMENT_WEBHOOK_SECRET"])
def test_a_production_process_outside_lambda_without_a_secret_is_refused_naming_it(secret):
    # Given `invest serve` or `invest migrate` in production with a secret missing (no ARN either)
    environ = {key: value for key, value in PROD.items() if key != secret}
    # When settings load / Then start-up fails naming the missing secret
    with pytest.raises(SettingsError, match=secret):
        load_settings(environ)


def test_settings_errors_never_echo_secret_values():
    with pytest.raises(SettingsError) as failure:
        load_settings({**PROD, "JWT_SECRET": "hunter2-short"})
    assert "hunter2" not in str(failure.value)


@mock_aws
def test_secrets_come_from_secrets_manager_by_arn():
    # Given the JWT secret and an RDS secret stored in Secrets Manager
    client = boto3.client("secretsmanager", region_name="us-east-1")
    jwt_arn = client.create_secret(Name="invest/jwt", SecretString="j" * 48)["ARN"]
    db_secret = {
        "engine": "postgres",
        "username": "app",
        "password": "p@ss/word",
        "host": "db",
        "port": 5432,
        "dbname": "invest",
    }
    db_arn = client.create_secret(Name="invest/db", SecretString=json.dumps(db_secret))["ARN"]
    environ = {
        **PROD,
        "AWS_DEFAULT_REGION": "us-east-1",
        "JWT_SECRET": "",
        "JWT_SECRET_ARN": jwt_arn,
        "DATABASE_URL": "",
        "DATABASE_SECRET_ARN": db_arn,
        "DATABASE_HOST": "proxy.example.internal",
    }
    # When settings load (boto3 reads the region from the process environment)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        settings = load_settings(environ)
    # Then the secret values are used, and the RDS Proxy host replaces the secret's host
    assert settings.security.jwt_secret == "j" * 48
    assert settings.database.url == "postgresql+pg8000://app:p%40ss%2Fword@proxy.example.internal:5432/invest"


@mock_aws
def test_unreadable_secret_fails_start_up_naming_the_variable():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with pytest.raises(SettingsError, match="JWT_SECRET_ARN"):
            load_settings({**PROD, "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"})
