"""``python -m sut``: run the bundled SUT."""

import sys

from sut.cli import main

sys.exit(main())
