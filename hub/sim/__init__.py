"""A simulated home (buttons, radar, BLE sensors, the elder's voice), attached to a hub with sim backends."""
