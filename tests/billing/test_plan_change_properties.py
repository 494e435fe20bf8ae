"""Property: whatever a user and the payment provider do, in whatever order and however much time passes,
the plan in force is free or one that was paid for (SQLite; the state machine is the same on every database).

Each example is a sequence of steps on a new user: PUT and DELETE of the subscription (through their
handlers), the provider's events (as the webhook applies them once signed), time passing, and the
scheduled run. After every step the plan whose quotas apply is checked against what was paid, and
the subscription the user reads against it.
"""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from investment_system.db.engine import unit_of_work
from investment_system.schemas.billing import PaymentEvent
from investment_system.services.billing.plan_terms import plan_of_user
from investment_system.services.billing.plans import plan_catalogue
from investment_system.services.billing.schedule import apply_due_changes
from investment_system.services.billing.webhooks import receive_payment_event
from tests.support.billing import CANCEL, CHANGE_PLAN, SUBSCRIPTION, USAGE, call, paying, payment_event, time_passes
from tests.support.signals import make_investor

PLANS = ["free", "pro", "enterprise"]
PRICES = {"free": 0, "pro": 2900, "enterprise": 19900}

steps = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(PLANS)),
    st.tuples(st.just("delete")),
    # invoice.paid: naming the pending checkout (paying its amount), an earlier one, or none; with a plan or without
    st.tuples(st.just("paid"), st.sampled_from(["pending", "earlier", None]), st.sampled_from([None, *PLANS])),
    st.tuples(st.just("failed")),
    st.tuples(st.just("canceled")),
    st.tuples(st.just("time"), st.sampled_from([23, 25, 24 * 8, 24 * 31])),
    st.tuples(st.just("schedule")),
)


def _provider(event_type: str, user_id, **data) -> None:
    receive_payment_event(PaymentEvent.model_validate_json(payment_event(event_type, user_id, **data)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(steps, min_size=1, max_size=20))
def test_the_plan_in_force_is_always_free_or_paid_for(sqlite_db, settings_env, sequence):
    settings_env.setenv("RATE_LIMIT_ENABLED", "false")  # a sequence is many requests of one user
    investor = make_investor()
    checkouts: list[dict] = []  # every checkout the user started
    paid_up_to = 0  # the highest price the provider reported paid
    for step in sequence:
        pending = call(SUBSCRIPTION, investor).json["pending_checkout"]
        if step[0] == "put":
            reply = call(CHANGE_PLAN, investor, json_body={"plan": step[1]})
            assert reply.status in (200, 202)
            if reply.status == 202:
                checkouts.append(reply.json["checkout"])
        elif step[0] == "delete":
            assert call(CANCEL, investor).status == 200
        elif step[0] == "paid":
            named = pending if step[1] == "pending" else (checkouts[0] if step[1] == "earlier" and checkouts else None)
            data = paying(named) if named else {}
            data |= {"plan": step[2]} if step[2] else {}
            _provider("invoice.paid", investor.user_id, **data)
            # What the provider was paid for: nothing when it names a checkout and another plan (not applied);
            # else the plan it names, or the checkout it completes (the one still pending, by id: time passing
            # moves its times, not what it is)
            mismatched = named is not None and step[2] is not None and step[2] != named["plan"]
            completes = named is not None and pending is not None and named["id"] == pending["id"]
            paid = None if mismatched else step[2] or (named["plan"] if completes else None)
            paid_up_to = max(paid_up_to, PRICES[paid] if paid else 0)
        elif step[0] == "failed":
            _provider("invoice.payment_failed", investor.user_id)
        elif step[0] == "canceled":
            _provider("subscription.canceled", investor.user_id)
        elif step[0] == "time":
            time_passes(investor.user_id, timedelta(hours=step[1]))
        else:
            apply_due_changes()

        # The plan whose quotas apply (read without writing) is free, or no dearer than one paid for
        with unit_of_work() as session:
            in_force = plan_of_user(session, investor.user_id)
        assert in_force.price_cents <= paid_up_to, (step, in_force.code, paid_up_to)
        # And it is what the user reads, with its quotas; nothing past its time shows as pending
        subscription = call(SUBSCRIPTION, investor).json
        assert subscription["plan"]["code"] == in_force.code.value
        usage = call(USAGE, investor).json
        quotas = plan_catalogue()[in_force.code.value].quotas
        assert (usage["signals_per_day"], usage["requests_per_minute"]) == (
            quotas.signals_per_day,
            quotas.requests_per_minute,
        )
        now = datetime.now(UTC)
        for moment in (
            (subscription["scheduled_change"] or {}).get("effective_at"),
            (subscription["pending_checkout"] or {}).get("expires_at"),
        ):
            assert moment is None or datetime.fromisoformat(moment.replace("Z", "+00:00")) > now
