"""Data access for billing: plans and subscriptions, checkouts, payment events, daily usage."""
