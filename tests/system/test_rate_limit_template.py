"""The template gives the rate-limit table's permissions to exactly the functions that use it."""

from invest_dev.template import http_functions, import_function, load_template, stream_functions
from investment_system.http.route_facts import RateLimit, declared_facts
from tests.support.function_modules import loaded_modules


def _roles(policy: str) -> set[str]:
    resources = load_template()["Resources"]
    return {role["Ref"].removesuffix("Role") for role in resources[policy]["Properties"]["Roles"]}


def _is_rate_limited(spec) -> bool:
    app = import_function(spec).app
    limits = {declared_facts(app, f"{route.method} {route.path}").rate_limit for route in spec.routes}
    return bool(limits - {RateLimit.NONE})


def test_every_rate_limited_function_and_no_other_may_update_the_counters():
    # Given the HTTP functions of the template, the routes the limiter exempts, and the WebSocket $connect
    # (per client IP) and $default (per connection)
    limited = {spec.name for spec in http_functions() if _is_rate_limited(spec)}
    limited |= {spec.name for spec in stream_functions() if {"$connect", "$default"} & set(spec.stream_routes)}
    # Then the counter policy lists the limited functions' roles, and only those
    assert _roles("RateLimitCounterAccess") == limited
    assert {"HealthFunction", "DocsFunction", "PaymentWebhookFunction"}.isdisjoint(limited)


def test_the_counter_policy_allows_only_reads_and_updates_of_items_of_the_rate_limit_table():
    statement = load_template()["Resources"]["RateLimitCounterAccess"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
            "Resource": {"Fn::GetAtt": "RateLimitTable.Arn"},
        }
    ]


def test_only_the_health_function_may_probe_the_table():
    assert _roles("RateLimitProbeAccess") == {"HealthFunction"}


def test_the_table_expires_counters_by_ttl():
    table = load_template()["Resources"]["RateLimitTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_exactly_the_functions_that_apply_plan_changes_may_store_a_users_limit():
    # Given every function of the template, and whether its code applies plan changes (it loads
    # services/billing/limits.py, which stores the new plan's limit)
    applying = {
        name for name, modules in loaded_modules().items() if "investment_system.services.billing.limits" in modules
    }
    # Then the plan-limit policy lists their roles, and only theirs, and allows only PutItem on the table
    assert "PaymentWebhookFunction" in applying
    assert _roles("RateLimitPlanLimitAccess") == applying
    statement = load_template()["Resources"]["RateLimitPlanLimitAccess"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement == [
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": "RateLimitTable.Arn"}}
    ]
