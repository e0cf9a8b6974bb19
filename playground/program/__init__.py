"""The program a scenario stands for, as text a person can read and run.

``codegen`` writes the asyncio program (3.13 and 3.11 variants), ``ideal_clock`` is the small
event loop it can run on (timers due together fire in the order set), and ``codeview`` the
highlighted view with its event lines. Imports ``model`` and, deliberately, ``sim``: the draw
formulas (``sim.draws``), the world's rules of when a call retries or is abandoned and the
event kinds are written once, there, so the program and the engine cannot drift apart.
"""
