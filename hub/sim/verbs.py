"""The device verbs `anxin sim` sends and the simulated home (hub/sim/home.py) carries out.

Apart from home.py so that `anxin sim` builds its arguments without importing the hub it
drives.
"""

from __future__ import annotations

# hazard verbs: verb -> (sensor type, value)
SENSOR_VERBS: dict[str, tuple[str, bool]] = {
    "smoke": ("smoke", True), "smoke-clear": ("smoke", False),
    "gas": ("gas", True), "gas-clear": ("gas", False),
    "co": ("co", True), "co-clear": ("co", False),
    "leak": ("leak", True), "leak-clear": ("leak", False),
    "door-open": ("door", True), "door-close": ("door", False),
    "window-open": ("window", True), "window-close": ("window", False),
    "motion": ("motion", True), "motion-clear": ("motion", False),
}
# radar verbs -> the scene the simulated radar plays
RADAR_VERBS = {"fall": "fall", "getup": "getup", "walk-in": "walk_in", "leave": "leave",
               "still": "still"}
RADAR_CONTROLS = (*RADAR_VERBS, "radar-silent", "radar-resume", "radar-unplug", "radar-plug")
