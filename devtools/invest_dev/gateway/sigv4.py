"""Checks a request's SigV4 signature as AWS does, for the gateway's emulated AWS APIs (`aws`).

The signature is recomputed with botocore's own signer (`SigV4Auth`) from what was received: the
method, the request target as sent, the headers the client says it signed and the body; then
compared in constant time. As AWS: the access key must be the one the workers were given, the
credential scope must name the API's service and the day of `X-Amz-Date`, which must be within
5 minutes of now, and a signed `X-Amz-Content-SHA256` must be the body's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Refusal:
    """Why AWS would refuse the request: its 403 error type and message."""

    code: str
    message: str


def signature_refusal(
    credentials: Credentials,
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> Refusal | None:
    """None when the request is signed by `credentials` for `service`; else why not.

    `target` is the request target as received (path and query, still percent-encoded) and
    `headers` the received headers with lower-case names.
    """
    authorization = headers.get("authorization", "")
    if not authorization.startswith(ALGORITHM + " "):
        return Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
    fields: dict[str, str] = {}
    for part in authorization.removeprefix(ALGORITHM).split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    scope = fields.get("Credential", "").split("/")
    signed = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signed or not signature:
        return Refusal("IncompleteSignatureException", "Authorization needs Credential, SignedHeaders and Signature")
    access_key, day, region, scoped_service, _ = scope
    if access_key != credentials.access_key:
        return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    if scoped_service != service:
        return Refusal("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'.")
    timestamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return Refusal("IncompleteSignatureException", "X-Amz-Date is missing or malformed")
    if day != timestamp[:8]:
        return Refusal("InvalidSignatureException", "Credential should be scoped to the day of X-Amz-Date.")
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_CLOCK_SKEW:
        return Refusal("InvalidSignatureException", f"Signature expired: {timestamp} is outside 5 minutes of now.")
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names or any(name not in headers for name in names):
        return Refusal("IncompleteSignatureException", "SignedHeaders must name host, x-amz-date and headers sent")
    declared_hash = headers.get("x-amz-content-sha256") if "x-amz-content-sha256" in names else None
    if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
        return Refusal("InvalidSignatureException", "X-Amz-Content-SHA256 is not the body's")
    request = AWSRequest(method=method, url=f"http://{headers['host']}{target}", data=body)
    for name in names:
        request.headers[name] = headers[name]
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(credentials, service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if signer.signed_headers(signer.headers_to_sign(request)) != signed or not hmac.compare_digest(expected, signature):
        return Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None
