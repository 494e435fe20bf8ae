"""The plumbing's warm cost: a function beside a minimal Powertools handler doing the same work.

The minimal handler validates, verifies the token, reads the caller and calls the same service inside
Powertools' Logger and Metrics, and nothing else; the target compares the function with it. A third
handler adds, inline, what the contract asks of every response (correlation ID, metrics, rate-limit
guard, security headers), so that the function's cost over it is the layering itself. The handlers
are called in turn, so that what else the machine does weighs on all, and their p50 compared.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations as objects, and the
# models are imported inside the function (after the benchmark's settings are in place).
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from invest_dev.bench.measure import measure, percentile
from invest_dev.bench.prepare import event_source
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario

CALLS = 1000


def _minimal_handlers() -> dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]]:
    """For each function measured: the minimal handler, and the same with the contract's per-response work."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

    from investment_system.observability import logger, metrics
    from investment_system.schemas import DEFAULT_LIMIT
    from investment_system.schemas.health import HealthReport
    from investment_system.schemas.signals import (
        CreatedFromParam,
        CreatedToParam,
        CursorParam,
        DirectionParam,
        LimitParam,
        Signal,
        SignalListQuery,
        SignalPage,
        StatusParam,
        StrategyParam,
        SymbolParam,
    )
    from investment_system.services.accounts.authentication import caller_role
    from investment_system.services.accounts.tokens import verify_access_token
    from investment_system.services.signals.reads import get_signal, list_signals
    from investment_system.services.system.health import check_health

    def caller(app: APIGatewayHttpResolver) -> uuid.UUID:
        claims = verify_access_token(app.current_event.headers["authorization"].partition(" ")[2])
        user_id = uuid.UUID(claims["sub"])
        caller_role(user_id, uuid.UUID(claims["sid"]), claims["epoch"])
        return user_id

    health = APIGatewayHttpResolver(enable_validation=True)

    @health.get("/v1/health")
    def get_health() -> Response[HealthReport]:
        return Response(200, content_types.APPLICATION_JSON, check_health())

    one = APIGatewayHttpResolver(enable_validation=True)

    @one.get("/v1/signals/<id>")
    def get_one(id: str) -> Signal:
        return get_signal(caller(one), id)

    listing = APIGatewayHttpResolver(enable_validation=True)

    @listing.get("/v1/signals")
    def get_list(
        symbol: SymbolParam = None,
        direction: DirectionParam = None,
        status: StatusParam = None,
        strategy: StrategyParam = None,
        created_from: CreatedFromParam = None,
        created_to: CreatedToParam = None,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> SignalPage:
        query = SignalListQuery(
            symbol=symbol,
            direction=direction,
            status=status,
            strategy=strategy,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
            cursor=cursor,
        )
        return list_signals(caller(listing), query)

    def observed(app: APIGatewayHttpResolver) -> Callable[[Any, Any], Any]:
        handler: Callable[[Any, Any], Any] = metrics.log_metrics(logger.inject_lambda_context(app.resolve))
        return handler

    return {
        "HealthFunction": (observed(health), observed(with_contract_work(health))),
        "GetSignalFunction": (observed(one), observed(with_contract_work(one))),
        "ListSignalsFunction": (observed(listing), observed(with_contract_work(listing))),
    }


def with_contract_work(app: Any) -> Any:
    """`app`, whose `resolve` also does inline what every response of the API carries (see the docstring)."""
    from investment_system.http.rate_limit import rate_limit_guard
    from investment_system.http.resolver import (
        CORRELATION_HEADER,
        SECURITY_HEADERS,
        correlation_id_for,
        record_request,
    )
    from investment_system.http.route_facts import declared_facts
    from investment_system.observability import set_correlation_id, start_request_metrics

    class ContractApp:
        def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
            started = time.perf_counter()
            correlation_id = correlation_id_for(event)
            set_correlation_id(correlation_id)
            route_key = event.get("routeKey") or "$default"
            start_request_metrics(context.function_name, route_key)
            facts = declared_facts(app, route_key)
            rate_limit_headers = rate_limit_guard(event, facts.rate_limit)
            response: dict[str, Any] = app.resolve(event, context)
            record_request(response["statusCode"], started)
            headers = response.setdefault("headers", {})
            headers.update(SECURITY_HEADERS)
            if facts.stores_nothing(str(event.get("rawPath"))):
                headers["Cache-Control"] = "no-store"
            headers["Vary"] = "Origin"
            headers.update(rate_limit_headers)
            headers[CORRELATION_HEADER] = correlation_id
            return response

    return ContractApp()


@scenario
def plumbing_overhead(ctx: BenchContext) -> list[ScenarioResult]:
    from invest_dev.events import LambdaContextStub

    results = []
    for name, (minimal, with_contract) in _minimal_handlers().items():
        next_event = event_source(name, ctx.event(name), ctx.users)
        event, context = next_event(), LambdaContextStub(function_name=name)
        function = ctx.handler(name)
        handlers = (function, minimal, with_contract)
        for handler in handlers:
            if handler(event, context)["statusCode"] != 200:
                raise RuntimeError(f"{name}: the sample event is not answered 200")
        samples: tuple[list[float], ...] = ([], [], [])
        for _ in range(min(ctx.iterations, CALLS)):
            for handler, handler_ms in zip(handlers, samples, strict=True):
                handler_ms += measure(lambda: handler(event, context), 1)  # noqa: B023 (called at once)
        function_ms, minimal_ms, contract_ms = samples
        ratio = percentile(function_ms, 50) / percentile(minimal_ms, 50)
        layering = percentile(function_ms, 50) / percentile(contract_ms, 50)
        spread = statistics.median(f - m for f, m in zip(function_ms, minimal_ms, strict=True))
        contract_spread = statistics.median(c - m for c, m in zip(contract_ms, minimal_ms, strict=True))
        results += [
            ScenarioResult(
                f"{name}, warm",
                function_ms,
                f"{ratio:.2f}x the minimal handler's p50; {layering:.2f}x that of the one with the contract's work",
            ),
            ScenarioResult(
                f"{name}, minimal Powertools handler, warm",
                minimal_ms,
                f"same work without the plumbing; median difference per call {spread:.2f} ms",
            ),
            ScenarioResult(
                f"{name}, minimal handler with the contract's per-response work, warm",
                contract_ms,
                f"correlation ID, request metrics, rate-limit guard, headers inline: {contract_spread:.2f} ms a call",
            ),
        ]
    return results
