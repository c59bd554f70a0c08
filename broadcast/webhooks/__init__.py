"""Outbound webhooks to subscriber systems: signing (RULES W1, W4), safe URLs (W3), sending (W2)."""
