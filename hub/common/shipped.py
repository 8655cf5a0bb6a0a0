"""Where the files Anxin ships live (rules, county rules, prompts, broker templates, examples).

hub/shipped links to the repository's config/, so a wheel carries them as package data and a
non-editable install (systemd/install.sh) finds them too.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "shipped"
