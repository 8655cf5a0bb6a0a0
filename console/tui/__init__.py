"""The duty console: a Textual app that reads the station database and talks to the service."""
