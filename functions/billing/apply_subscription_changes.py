"""Scheduled (EventBridge): apply due plan changes, cancellations and dunning, in bounded batches."""

from investment_system.entrypoints import scheduled_handler
from investment_system.services.billing.schedule import apply_due_changes

handler = scheduled_handler(lambda keep_going: {"subscriptions": apply_due_changes(keep_going=keep_going)})
