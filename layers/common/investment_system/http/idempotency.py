"""Idempotency-Key on a write route: the header's declaration and the response the handler returns.

    @app.post("/v1/signals", status_code=201)
    def post_signal(body: SignalCreate, user: CurrentUser, idempotency_key: IdempotencyKey = None):
        return idempotent_response(idempotency_key, body, 201, create_signal_within_quota, user.user_id, body)

The handler names the use case's step, a service function; services/system/idempotency.py runs it with the
session of the transaction that also records the key, so the step does all its writes through it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Concatenate

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel

from investment_system.services.system.idempotency import KEY_MAX_LENGTH, Step, fingerprint, run_idempotently

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "1 to 255 characters, unique per intended effect. The same key with the same body within 24 h "
            "replays the first response (Idempotent-Replayed: true) without a second effect; with another "
            "body: 422 IDEMPOTENCY_KEY_REUSED; while the first is running: 409 IDEMPOTENCY_IN_PROGRESS."
        ),
        # Documented, and checked by the service: a bad key is 400 INVALID_IDEMPOTENCY_KEY, not a 422.
        json_schema_extra={"minLength": 1, "maxLength": KEY_MAX_LENGTH},
    ),
]


def idempotent_response[**P, Result: BaseModel](
    key: str | None,
    request: BaseModel,
    status_code: int | Mapping[type[BaseModel], int],
    step: Step[Concatenate[uuid.UUID, P], Result],
    user_id: uuid.UUID,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response[Any]:
    """Answer with the caller's use case `step(session, user_id, *args, **kwargs)`, run in one transaction,
    at most once per (user, key) when a key is given. The status is `status_code`, or the one it gives the
    result's type (PUT /v1/billing/subscription: 200 or 202)."""

    def response(result: Result) -> tuple[int, str]:
        status = status_code if isinstance(status_code, int) else status_code[type(result)]
        return status, result.model_dump_json()

    # The request model's name stands for the operation: the same key on another route is another request.
    request_hash = fingerprint(type(request).__qualname__, request.model_dump_json())
    outcome = run_idempotently(user_id, key, request_hash, response, step, user_id, *args, **kwargs)
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else {}
    return Response(outcome.status, content_types.APPLICATION_JSON, json.loads(outcome.body), headers)
