"""The real-time stream: tickets and connections, the outbox of events, delivery, clients' messages."""
