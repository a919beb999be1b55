"""The simulation's rules (:mod:`bot_core.rules`) made callable from Numba-compiled code.

Importing this module registers every rule with ``numba.extending.register_jitable``: the
plain Python functions stay what the event path calls, and a compiled kernel that calls them
gets them compiled from the same source. Import it (once, from the kernels) before compiling
anything that calls a rule; importing it imports numba.
"""

from __future__ import annotations

from numba.extending import register_jitable

from bot_core import rules

__all__ = ["rules"]

for _name in rules.__all__:
    _rule = getattr(rules, _name)
    if callable(_rule):
        register_jitable(_rule)
