"""The station's trust material: its CA, the broker's configuration, and a private broker for
the demo and the tests."""
