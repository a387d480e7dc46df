"""python -m fastgrad._bench: the same as python -m fastgrad bench."""
import sys

from .cli import main

sys.exit(main())
