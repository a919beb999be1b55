"""Tests of the core risk checks (a package, so that test modules can share generators)."""
