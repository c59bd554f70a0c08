"""Inbound monitoring webhooks (Alertmanager, generic signed JSON) that open draft notices."""
