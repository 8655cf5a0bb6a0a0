"""Installer tools that edit a hub's config or talk to a running hub: pair, radar, audio,
prompts, provision (apply), the walk test."""
