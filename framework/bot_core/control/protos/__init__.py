"""``bot_core.proto`` and the modules generated from it (checked in; see the proto's header)."""
