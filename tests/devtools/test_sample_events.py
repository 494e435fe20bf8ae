"""Every HTTP function of template.yaml has a sample event in events/ that its handler serves.

The functions are read from the template when the tests are collected, so a function added to the
template without an `events/<FunctionLogicalId>.json` fails here.
"""

import pytest

from invest_dev.events import LambdaContextStub
from invest_dev.samples import (
    authorization_header,
    event_path,
    load_event,
    matching_route,
    requires_authentication,
    seed_sample_users,
    with_fresh_token,
)
from invest_dev.template import FunctionSpec, http_functions
from tests.support.functions import Reply, function_module

HTTP_FUNCTIONS = http_functions()


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=[spec.name for spec in HTTP_FUNCTIONS])
def test_function_has_a_sample_event_for_one_of_its_routes(spec: FunctionSpec):
    # Given an HTTP function of the template
    # When its sample event is read
    assert event_path(spec).is_file(), f"missing sample event events/{spec.name}.json"
    event = load_event(spec)
    # Then it is a payload-2.0 event for one of the function's routes
    assert event["version"] == "2.0"
    route = matching_route(spec, event)
    assert route is not None, f"{spec.name}: routeKey {event.get('routeKey')!r} matches none of {spec.routes}"
    # And a route that needs a signed-in caller gets an Authorization header to put a token in
    if requires_authentication(route):
        assert authorization_header(event), f"{spec.name}: {route.method} {route.path} needs an Authorization header"


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=[spec.name for spec in HTTP_FUNCTIONS])
def test_sample_event_is_served_without_server_error(spec: FunctionSpec, db):
    # Given a database with the sample accounts, and the function's sample event with a fresh token
    if not event_path(spec).is_file():
        pytest.fail(f"{spec.name} has no sample event in events/")
    event = with_fresh_token(load_event(spec), seed_sample_users())
    # When the function's handler is invoked with it
    reply = Reply(function_module(spec.name).handler(event, LambdaContextStub(function_name=spec.name)))
    # Then it answers without a server error, and a signed-in caller is accepted
    assert reply.status < 500, f"{spec.name}: {reply.status} {reply.text[:300]}"
    if authorization_header(event):
        assert reply.status != 401, f"{spec.name}: fresh token refused: {reply.text[:300]}"
    assert reply.headers["X-Correlation-ID"]
