"""Facts of template.yaml that a deploy depends on, checked for every function (including new ones)."""

from invest_dev.template import functions, load_template
from investment_system.settings import DatabaseSettings

API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30


def _resources() -> dict:
    return load_template()["Resources"]


def _function_properties() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in _resources().items() if r["Type"] == "AWS::Serverless::Function"}


def test_every_function_may_read_the_secrets_its_settings_load_and_nothing_more():
    # Settings read the database, JWT and webhook secrets at start-up in every function
    statement = _resources()["RuntimeSecretsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": [{"Ref": "DatabaseSecretArn"}, {"Ref": "JwtSecretArn"}, {"Ref": "PaymentWebhookSecretArn"}],
        }
    ]
    for name, properties in _function_properties().items():
        assert {"Ref": "RuntimeSecretsPolicy"} in properties.get("Policies", []), name


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
