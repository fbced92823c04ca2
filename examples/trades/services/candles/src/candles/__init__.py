"""candles service."""
