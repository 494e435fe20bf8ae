"""Trading signals: their lifecycle, reads, daily quota, history, analytics and scheduled expiry."""
