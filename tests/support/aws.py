"""AWS stand-ins for tests (moto): the limiter's DynamoDB table, which the analytics cache shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from moto import mock_aws


@contextmanager
def mocked_dynamodb_table(monkeypatch: pytest.MonkeyPatch, table: str) -> Iterator[None]:
    """Inside: moto's AWS with fake credentials and `table` (key `pk`), shaped as template.yaml makes it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
