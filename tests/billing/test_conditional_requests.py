"""The subscription's ETag, on every database backend: it changes with every change a client could see
(a plan change, a checkout, a cancellation, a payment, a period ending), and a copy still current is 304."""

from datetime import timedelta

from sqlalchemy import select

from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.models.checkouts import Checkout
from tests.support.billing import (
    CANCEL,
    CHANGE_PLAN,
    SUBSCRIPTION,
    call,
    deliver,
    paying,
    payment_event,
    put_on_plan,
    time_passes,
)
from tests.support.signals import make_investor


def _etag(investor) -> str:
    reply = call(SUBSCRIPTION, investor)
    assert reply.status == 200, reply.text
    return reply.headers["ETag"]


def test_a_current_copy_of_the_subscription_is_304_and_a_new_user_has_one_version(db):
    investor = make_investor()
    etag = _etag(investor)
    # When the client asks again with the ETag it holds
    reply = call(SUBSCRIPTION, investor, headers={"If-None-Match": etag})
    # Then the answer is 304, without a body, with the same ETag
    assert reply.status == 304
    assert not reply.raw.get("body")
    assert reply.headers["ETag"] == etag
    assert _etag(investor) == etag


def test_every_change_to_the_subscription_gives_it_a_new_etag(db):
    investor = make_investor()
    seen = [_etag(investor)]

    def changed() -> None:
        etag = _etag(investor)
        assert etag not in seen
        stale = call(SUBSCRIPTION, investor, headers={"If-None-Match": seen[-1]})
        assert stale.status == 200  # the copy from before the change is no longer current
        seen.append(etag)

    # When the user starts a checkout for a dearer plan (the subscription row itself is unchanged)
    started = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    assert started.status == 202, started.text
    changed()
    # And the provider's payment for it arrives (the webhook)
    assert deliver(payment_event("invoice.paid", investor.user_id, **paying(started.json["checkout"]))).status == 200
    changed()
    # And a cheaper plan is scheduled, then the scheduled change withdrawn, then the subscription cancelled
    assert call(CHANGE_PLAN, investor, json_body={"plan": "free"}).status == 200
    changed()
    assert call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).status == 200
    changed()
    assert call(CANCEL, investor).status == 200
    changed()
    # And the period ends, so the cancellation takes effect on the next read
    time_passes(investor.user_id, timedelta(days=32))
    changed()
    assert call(SUBSCRIPTION, investor).json["plan"]["code"] == "free"


def test_a_checkout_that_expires_unpaid_changes_the_etag(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    assert call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"}).status == 202
    with_checkout = _etag(investor)
    # When the checkout's time runs out unpaid (nothing of the subscription's row changes)
    with unit_of_work() as session:
        for checkout in session.scalars(select(Checkout).where(Checkout.user_id == investor.user_id)):
            checkout.expires_at = utcnow() - timedelta(seconds=1)
    reply = call(SUBSCRIPTION, investor, headers={"If-None-Match": with_checkout})
    # Then the subscription reads without it, under another ETag
    assert reply.status == 200
    assert reply.json["pending_checkout"] is None
    assert reply.headers["ETag"] != with_checkout
