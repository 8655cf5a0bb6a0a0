"""The hub daemon: devices in, rules, the durable outbox and uplink, calls, feedback to the elder."""
