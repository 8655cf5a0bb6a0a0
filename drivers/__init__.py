"""Hardware drivers. Each device takes its backend as an argument and has a simulated one."""
