"""The only package that imports the CLI library. Commands are thin adapters.

Rule for command modules: import heavy libraries (WeasyPrint, matplotlib, uvicorn,
pyHanko) inside the command function, never at module level, so ``tokencert verify``
and ``--help`` stay fast and need only the ``verify`` extra.
"""
