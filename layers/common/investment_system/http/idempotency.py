"""Idempotency-Key on a write route: the header's declaration and the response the handler returns.

    @app.put("/v1/billing/subscription")
    def put_subscription(body: ChangePlanRequest, user: CurrentUser, idempotency_key: IdempotencyKey = None):
        return idempotent_response(user.user_id, idempotency_key, body, 200,
                                   lambda session: change_plan(session, user.user_id, body.plan))

`perform` runs in the unit of work that also records the key (services/idempotency.py), so it must
do all its writes through the session it is given.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel
from sqlalchemy.orm import Session

from investment_system.services.idempotency import KEY_MAX_LENGTH, fingerprint, run_idempotently

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


def idempotent_response[Result: BaseModel](
    user_id: uuid.UUID,
    key: str | None,
    request: BaseModel,
    status_code: int | Callable[[Result], int],
    perform: Callable[[Session], Result],
) -> Response[Any]:
    """Run `perform` in one transaction, at most once per (user, key) when a key is given. The status
    is `status_code`, or what it says for the result (PUT /v1/billing/subscription: 200 or 202)."""

    def perform_and_serialize(session: Session) -> tuple[int, str]:
        result = perform(session)
        status = status_code if isinstance(status_code, int) else status_code(result)
        return status, result.model_dump_json()

    # The request model's name stands for the operation: the same key on another route is another request.
    request_hash = fingerprint(type(request).__qualname__, request.model_dump_json())
    outcome = run_idempotently(user_id, key, request_hash, perform_and_serialize)
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else {}
    return Response(outcome.status, content_types.APPLICATION_JSON, json.loads(outcome.body), headers)
