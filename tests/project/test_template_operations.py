"""The template's operating safeguards: feature flags in AppConfig, throttling before the functions,
reserved concurrency, and logs and data that survive a stack replacement."""

import re

from invest_dev.template import load_template

RESOURCES = load_template()["Resources"]
PARAMETERS = load_template()["Parameters"]


def _of_type(resource_type: str) -> dict[str, dict]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == resource_type}


def test_feature_flags_live_in_appconfig_and_every_function_is_told_where():
    # Given the template's AppConfig resources
    for name in ("FeatureFlagsApplication", "FeatureFlagsEnvironment", "FeatureFlagsProfile"):
        assert name in RESOURCES, name
    deployment = RESOURCES["FeatureFlagsDeployment"]["Properties"]
    assert deployment["DeploymentStrategyId"] == {"Ref": "FeatureFlagsDeploymentStrategy"}
    # Then the functions' environment names them, with the cache's age as a parameter (30 s by default)
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["FEATURE_FLAGS_APPCONFIG_APPLICATION"] == {"Ref": "FeatureFlagsApplication"}
    assert variables["FEATURE_FLAGS_APPCONFIG_ENVIRONMENT"] == {"Ref": "FeatureFlagsEnvironment"}
    assert variables["FEATURE_FLAGS_APPCONFIG_PROFILE"] == {"Ref": "FeatureFlagsProfile"}
    assert variables["FEATURE_FLAGS_MAX_AGE_SECONDS"] == {"Ref": "FeatureFlagsMaxAgeSeconds"}
    assert PARAMETERS["FeatureFlagsMaxAgeSeconds"]["Default"] == 30
    # And the first version of the document is every flag's default, in Powertools' schema
    content = RESOURCES["FeatureFlagsDefaults"]["Properties"]["Content"]
    import json

    from investment_system.services.system.feature_flags import DEFAULT_DOCUMENT

    assert json.loads(content) == DEFAULT_DOCUMENT


def test_the_http_api_throttles_every_route_and_the_sensitive_ones_tighter():
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    sensitive = {"POST /v1/auth/login", "POST /v1/auth/register", "POST /v1/billing/webhooks/payments"}
    assert set(api["RouteSettings"]) == sensitive
    for settings in api["RouteSettings"].values():
        assert settings["ThrottlingRateLimit"] == {"Ref": "SensitiveRouteThrottlingRateLimit"}
    assert PARAMETERS["SensitiveRouteThrottlingRateLimit"]["Default"] < PARAMETERS["ApiThrottlingRateLimit"]["Default"]
    assert (
        PARAMETERS["SensitiveRouteThrottlingBurstLimit"]["Default"] < PARAMETERS["ApiThrottlingBurstLimit"]["Default"]
    )


def test_the_payment_webhook_and_migrate_have_concurrency_of_their_own():
    reserved = {
        name: resource["Properties"]["ReservedConcurrentExecutions"]
        for name, resource in _of_type("AWS::Serverless::Function").items()
        if "ReservedConcurrentExecutions" in resource["Properties"]
    }
    assert set(reserved) == {"PaymentWebhookFunction", "MigrateFunction"}
    assert all(value >= 1 for value in reserved.values())


def test_log_groups_and_stateful_resources_survive_a_replacement_and_logs_expire():
    stateful = {**_of_type("AWS::Logs::LogGroup"), **_of_type("AWS::DynamoDB::Table")}
    assert stateful
    for name, resource in stateful.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name
    for name, resource in _of_type("AWS::Logs::LogGroup").items():
        assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_exactly_the_functions_that_read_a_flag_may_read_the_flags():
    # Given every HTTP function, and whether one of its routes is stopped by maintenance (which reads the
    # flag), it reports the flag (health) or depends on one (registration)
    from invest_dev.template import http_functions, import_function
    from investment_system.http.route_facts import declared_facts

    def reads_flags(spec) -> bool:
        app = import_function(spec).app
        stopped = any(
            declared_facts(app, f"{route.method} {route.path}").stopped_by_maintenance(route.method)
            for route in spec.routes
            if not route.is_default
        )
        return stopped or spec.name in {"HealthFunction", "RegisterFunction"}

    readers = {spec.name for spec in http_functions() if reads_flags(spec)}
    # Then those functions, and only those, have the policy allowing AppConfig's reads of the flags' profile
    granted = {
        name
        for name, resource in _of_type("AWS::Serverless::Function").items()
        if {"Ref": "FeatureFlagsReadPolicy"} in resource["Properties"].get("Policies", [])
    }
    assert granted == readers
    statement = RESOURCES["FeatureFlagsReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [rule["Action"] for rule in statement] == [
        ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]
    ]


def _asynchronous_functions() -> set[str]:
    """The functions whose handler an asynchronous trigger calls (a schedule, an Invoke), from their code."""
    from invest_dev.template import functions

    found = set()
    for spec in functions():
        source = spec.source.read_text(encoding="utf-8")
        if re.search(r"^handler = (scheduled_handler|async_handler)\(", source, re.M):
            found.add(spec.name)
    return found


def test_asynchronous_work_that_keeps_failing_lands_in_a_retained_dead_letter_queue():
    # Given the scheduled jobs and the stream's delivery, found from their handlers
    asynchronous = _asynchronous_functions()
    assert {"ExpireSignalsFunction", "ApplySubscriptionChangesFunction", "StreamDeliveryFunction"} <= asynchronous
    # Then each, and no other function, retries a bounded number of times, then sends the event to the queue
    configured = {
        name: resource["Properties"]["EventInvokeConfig"]
        for name, resource in _of_type("AWS::Serverless::Function").items()
        if "EventInvokeConfig" in resource["Properties"]
    }
    assert set(configured) == asynchronous
    for name, config in configured.items():
        assert 0 <= config["MaximumRetryAttempts"] <= 2, name
        assert 60 <= config["MaximumEventAgeInSeconds"] <= 3600, name
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": "FailedInvocationsQueue.Arn"},
        }, name
    # And the queue keeps its messages the longest SQS allows, through a stack replacement
    queue = RESOURCES["FailedInvocationsQueue"]
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_failed_asynchronous_work_sets_off_alarms_and_shows_on_the_dashboard():
    from invest_dev.monitoring import MONITORING_TEMPLATE, template_dashboard

    monitoring = load_template(MONITORING_TEMPLATE)["Resources"]
    # Given the asynchronous functions, Then each has an alarm on its Lambda errors, at the first one
    for name in _asynchronous_functions():
        alarm = monitoring[f"{name}ErrorsAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    # And a message waiting in the dead-letter queue sets off an alarm
    depth = monitoring["FailedInvocationsQueueDepthAlarm"]["Properties"]
    assert (depth["Namespace"], depth["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": {"Ref": "FailedInvocationsQueueName"}}]
    assert (depth["ComparisonOperator"], depth["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    passed = RESOURCES["Monitoring"]["Properties"]["Parameters"]["FailedInvocationsQueueName"]
    assert passed == {"Fn::GetAtt": "FailedInvocationsQueue.QueueName"}
    # And the dashboard graphs their errors and the queue's depth
    graphed = {
        tuple(line[:4])
        for widget in template_dashboard()["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    }
    for name in _asynchronous_functions():
        assert ("AWS/Lambda", "Errors", "FunctionName", name) in graphed
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "FailedInvocationsQueueName") in graphed


def test_every_http_function_deploys_gradually_in_prod_and_rolls_back_on_its_alarms():
    from invest_dev.monitoring import MONITORING_TEMPLATE
    from invest_dev.template import http_functions

    monitoring = load_template(MONITORING_TEMPLATE)
    # Given the template's condition and parameter: canary in prod, all at once elsewhere
    assert load_template()["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}
    assert PARAMETERS["ProdDeploymentType"]["Default"].startswith("Canary")
    for spec in http_functions():
        preference = RESOURCES[spec.name]["Properties"]["DeploymentPreference"]
        # Then each HTTP function deploys through CodeDeploy that way
        assert preference["Type"] == {"Fn::If": ["IsProd", {"Ref": "ProdDeploymentType"}, "AllAtOnce"]}, spec.name
        # And its own 5xx-rate and p99 alarms, outputs of the monitoring stack, roll the deploy back
        alarms = [f"{spec.name}Http5xxAlarm", f"{spec.name}LatencyP99Alarm"]
        assert preference["Alarms"] == [{"Fn::GetAtt": f"Monitoring.Outputs.{alarm}"} for alarm in alarms], spec.name
        for alarm in alarms:
            assert monitoring["Outputs"][alarm]["Value"] == {"Ref": alarm}
        # And those alarms watch the function's own routes, each minute
        watched = [
            metric["MetricStat"]["Metric"]
            for metric in monitoring["Resources"][f"{spec.name}Http5xxAlarm"]["Properties"]["Metrics"]
            if "MetricStat" in metric
        ]
        assert {
            dimension["Value"] == {"Ref": spec.name}
            for metric in watched
            for dimension in metric["Dimensions"]
            if dimension["Name"] == "function_name"
        } == {True}
        assert {metric["MetricName"] for metric in watched} == {"Requests2xx", "Requests4xx", "Requests5xx"}
    # And the deploys of health and a token-checked read wait for the pre-traffic check of their new versions
    for name, variable in (
        ("HealthFunction", "DEPLOY_CHECK_HEALTH_VERSION"),
        ("GetMeFunction", "DEPLOY_CHECK_TOKEN_READ_VERSION"),
    ):
        hooks = RESOURCES[name]["Properties"]["DeploymentPreference"]["Hooks"]
        assert hooks == {"PreTraffic": {"Ref": "PreTrafficCheckFunction"}}
        check = RESOURCES["PreTrafficCheckFunction"]["Properties"]
        assert check["Environment"]["Variables"][variable] == {"Ref": f"{name}.Version"}
    # CodeDeploy's role invokes only hooks named CodeDeployHook_*
    assert RESOURCES["PreTrafficCheckFunction"]["Properties"]["FunctionName"] == {
        "Fn::Sub": "CodeDeployHook_${AWS::StackName}-pre-traffic"
    }
