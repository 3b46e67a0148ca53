"""Running a script's ``main`` so that bad input ends in one line on stderr, not a traceback."""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional

from utils.errors import InputError

__all__ = ["run_cli"]


def run_cli(main: Callable[[Optional[list]], None], argv: Optional[list] = None) -> None:
    """Call ``main(argv)`` and exit: 0 on success, 2 with ``<script>: error: <message>`` on bad input.

    An interrupt exits with 130 and a short note. Other exceptions are bugs and propagate with
    their traceback.
    """
    prog = os.path.basename(sys.argv[0]) or "ifrnet"
    try:
        main(argv)
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
