import sys

from lcsbench.cli import main

sys.exit(main())
