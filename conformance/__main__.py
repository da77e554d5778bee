"""``python -m conformance`` is the same as the ``tokencert`` command."""

from conformance.cli.app import main

if __name__ == "__main__":
    main()
