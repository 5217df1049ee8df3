import sys

from toyscale.cli import main

sys.exit(main())
