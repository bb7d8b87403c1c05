"""``python -m mfmarl``: the command line."""

from mfmarl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
