"""The station service: ingests hub messages, stores them, acknowledges, serves consoles."""
