"""The frozen build's entry script: the same as the `hiscrm` console script (app.cli:main).

PyInstaller needs a script file; app/__main__.py uses a relative import, so it cannot be one.
"""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
