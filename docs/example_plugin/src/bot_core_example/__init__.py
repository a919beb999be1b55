"""Example bot-core plugin."""
