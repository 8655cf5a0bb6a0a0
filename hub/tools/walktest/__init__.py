"""``anxin walktest``: guide the installer through every device, then report."""
