"""Shared by the hub and the console: the event model, the wire format, the transport, config
loading, the line-JSON socket, task supervision and systemd notification."""
