"""Facts of template.yaml that a deploy depends on, checked for every function (including new ones)."""

from invest_dev.template import functions, load_template
from investment_system.settings import DatabaseSettings
from tests.support.function_modules import loaded_modules

API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30


def _resources() -> dict:
    return load_template()["Resources"]


def _function_properties() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in _resources().items() if r["Type"] == "AWS::Serverless::Function"}


# The modules that read each secret (settings' fields database.url, security.jwt_secret,
# security.payment_webhook_secret): a function loading one of them uses the secret, and is given its ARN and
# its policy; no other is. (The cursors of paginated routes are keyed with the JWT key too, in routes that
# verify tokens anyway.)
SECRET_READERS = {
    ("DATABASE_SECRET_ARN", "DatabaseSecretReadPolicy", "HasDatabaseSecret", "DatabaseSecretArn"): {
        "investment_system.db.engine",
    },
    ("JWT_SECRET_ARN", "JwtSecretReadPolicy", "HasJwtSecret", "JwtSecretArn"): {
        "investment_system.services.accounts.tokens",
    },
    ("PAYMENT_WEBHOOK_SECRET_ARN", "WebhookSecretReadPolicy", "HasPaymentWebhookSecret", "PaymentWebhookSecretArn"): {
        "investment_system.services.billing.webhooks",
    },
}


def test_every_function_may_read_the_secrets_its_code_uses_and_no_other():
    template = load_template()
    resources = template["Resources"]
    # Given what each function's code loads (tests/support/function_modules.py)
    modules = dict(loaded_modules())
    # (the migration imports the layer, and the database, only in its use case: functions/system/migrate.py)
    modules["MigrateFunction"] |= {"investment_system.db.engine"}
    for (variable, policy, condition, parameter), readers in SECRET_READERS.items():
        users = {name for name, loaded in modules.items() if loaded & readers}
        # Then exactly those functions are given the secret's ARN, and its policy, which reads only it
        given = {
            name
            for name, properties in _function_properties().items()
            if variable in properties.get("Environment", {}).get("Variables", {})
        }
        # (attached, like the policy is made, only when the secret's ARN is given: a policy reading nothing is invalid)
        attached = {"Fn::If": [condition, {"Ref": policy}, {"Ref": "AWS::NoValue"}]}
        granted = {
            name for name, properties in _function_properties().items() if attached in properties.get("Policies", [])
        }
        assert (given, granted) == (users, users), variable
        assert resources[policy]["Condition"] == condition
        statement = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert statement == [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": parameter}}
        ]
        assert variable not in template["Globals"]["Function"]["Environment"]["Variables"]
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
    # And the webhook's secret is its function's alone
    assert {name for name, loaded in modules.items() if "investment_system.services.billing.webhooks" in loaded} == {
        "PaymentWebhookFunction"
    }
    # And the functions that answer without the database may not read its secret
    assert {"DocsFunction", "ListPlansFunction", "NotFoundFunction"}.isdisjoint(
        name for name, loaded in modules.items() if "investment_system.db.engine" in loaded
    )


def test_only_the_delivery_function_may_manage_websocket_connections():
    managing = {
        name
        for name, properties in _function_properties().items()
        for policy in properties.get("Policies", [])
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        if "execute-api:ManageConnections" in str(statement.get("Action"))
    }
    assert managing == {"StreamDeliveryFunction"}
    managed_elsewhere = [
        name
        for name, resource in _resources().items()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")
        and "execute-api:ManageConnections" in str(resource["Properties"])
    ]
    assert managed_elsewhere == []


def test_every_function_publishes_a_snapstart_version_when_its_code_layer_or_settings_change():
    function_globals = load_template()["Globals"]["Function"]
    assert function_globals["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function_globals["AutoPublishAlias"] == "live"
    # Most code lives in the layer: a new layer must publish new versions too
    assert _resources()["CommonLayer"]["Properties"]["PublishLambdaVersion"] is True
    for name, properties in _function_properties().items():
        assert properties.get("AutoPublishAliasAllProperties") is True, name


def test_migrations_run_on_every_deploy_through_the_migrate_function():
    migration = _resources()["DatabaseMigration"]
    assert migration["Type"] == "Custom::DatabaseMigration"
    assert migration["Properties"]["ServiceToken"] == {"Ref": "MigrateFunction.Alias"}
    assert migration["Properties"]["MigrateFunctionVersion"] == {"Ref": "MigrateFunction.Version"}


def test_http_functions_outlast_a_slow_query_and_answer_before_api_gateway_gives_up():
    statement_timeout = DatabaseSettings().statement_timeout_ms / 1000
    for spec in functions():
        if spec.routes:
            assert statement_timeout < spec.timeout_seconds < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS, spec.name


def test_function_logs_and_api_access_logs_are_kept_for_the_retention_period():
    resources = _resources()
    for log_group in ("FunctionLogs", "HttpApiAccessLogs"):
        assert resources[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert load_template()["Globals"]["Function"]["LoggingConfig"] == {"LogGroup": {"Ref": "FunctionLogs"}}
