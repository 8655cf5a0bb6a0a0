"""Console strings for homes, elder records, visits, the ledger: key -> (zh_CN, en)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
}
