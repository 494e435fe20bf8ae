"""Scheduled (EventBridge): mark overdue OPEN signals EXPIRED, in bounded batches, with history rows."""

from investment_system.entrypoints import scheduled_handler
from investment_system.services.signals.expiry import expire_overdue_signals

handler = scheduled_handler(lambda keep_going: {"expired": expire_overdue_signals(keep_going=keep_going)})
