"""Billing: the plan catalogue, subscriptions and their schedule, checkouts, payments' webhook, daily usage."""
