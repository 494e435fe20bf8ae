"""Data access for the real-time stream: counters, outbox, tickets, connections."""
