"""The template's real-time stream: the WebSocket API's routes, and who may push and who may ask for it."""

from invest_dev.template import functions, load_template, stream_functions

RESOURCES = load_template()["Resources"]


def _statements(resource: dict) -> list[dict]:
    properties = resource["Properties"]
    if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return list(properties["PolicyDocument"]["Statement"])
    if resource["Type"] == "AWS::Serverless::Function":
        return [
            s
            for policy in properties.get("Policies", [])
            if isinstance(policy, dict)
            for s in policy.get("Statement", [])
        ]
    return []


def _grants(action: str) -> dict[str, list]:
    """Resource name -> the resources of its statements that allow `action`."""
    found: dict[str, list] = {}
    for name, resource in RESOURCES.items():
        for statement in _statements(resource):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions or any(a.endswith(":*") and action.startswith(a[:-1]) for a in actions):
                found.setdefault(name, []).append(statement["Resource"])
    return found


def test_each_websocket_route_invokes_its_own_function():
    assert {spec.stream_routes: spec.name for spec in stream_functions()} == {
        ("$connect",): "StreamConnectFunction",
        ("$disconnect",): "StreamDisconnectFunction",
        ("$default",): "StreamMessageFunction",
    }
    assert RESOURCES["StreamApi"]["Properties"]["ProtocolType"] == "WEBSOCKET"
    # $default answers the client (pong, error frames): it has a route response
    assert RESOURCES["StreamDefaultRouteResponse"]["Properties"]["RouteId"] == {"Ref": "StreamDefaultRoute"}


def test_only_the_delivery_function_may_push_and_only_on_this_api():
    grants = _grants("execute-api:ManageConnections")
    assert list(grants) == ["StreamDeliveryFunction"]
    [resource] = grants["StreamDeliveryFunction"]
    assert "${StreamApi}/${StreamStage}/*/@connections/*" in resource["Fn::Sub"]


def test_the_functions_that_write_events_may_ask_for_a_delivery_of_the_delivery_alias_only():
    grants = _grants("lambda:InvokeFunction")
    # Besides the deliveries, only a deploy's pre-traffic check invokes functions: the new versions it checks
    assert grants.pop("PreTrafficCheckFunction") == [
        [{"Ref": "HealthFunction.Version"}, {"Ref": "GetMeFunction.Version"}]
    ]
    assert list(grants) == ["StreamDeliveryRequests"]
    [resource] = grants["StreamDeliveryRequests"]
    assert resource["Fn::Sub"].endswith(":function:${AWS::StackName}-stream-delivery:live")
    roles = {role["Ref"].removesuffix("Role") for role in RESOURCES["StreamDeliveryRequests"]["Properties"]["Roles"]}
    writers = {spec.name for spec in functions() if spec.code_uri.name == "signals" and spec.name not in READERS}
    assert writers <= roles
    assert roles - writers == BILLING_WRITERS | {"StreamConnectFunction", "StreamMessageFunction"}


READERS = {"ListSignalsFunction", "GetSignalFunction", "GetSignalAnalyticsFunction", "GetSignalHistoryFunction"}
# The billing functions whose transactions change a subscription (services/billing/subscriptions.py `_record`).
BILLING_WRITERS = {
    "GetSubscriptionFunction",
    "ChangePlanFunction",
    "CancelSubscriptionFunction",
    "PaymentWebhookFunction",
    "ApplySubscriptionChangesFunction",
}


def test_the_delivery_function_is_named_as_the_other_functions_invoke_it():
    delivery = RESOURCES["StreamDeliveryFunction"]["Properties"]
    invoked = load_template()["Globals"]["Function"]["Environment"]["Variables"]["STREAM_DELIVERY_FUNCTION"]
    assert invoked["Fn::Sub"] == delivery["FunctionName"]["Fn::Sub"] + ":live"
