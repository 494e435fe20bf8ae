"""Scheduled (EventBridge): purge expired checkouts, idempotency records, old payment events and
expired refresh tokens, in bounded batches."""

from investment_system.entrypoints import scheduled_handler
from investment_system.services.system.housekeeping import purge_expired_records

handler = scheduled_handler(lambda keep_going: purge_expired_records(keep_going=keep_going))
