"""Anxin hub: event model, wire format, alarm lifecycle, durable outbox and MQTT uplink."""
