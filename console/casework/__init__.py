"""Casework of the duty desk: elder records, the county's care rules, visits, the monthly ledger.

Pure code: records and rows in, values out, dates and times passed in (no clock is read here),
so the station store and the console can both use it and tests need no fakes.
"""
