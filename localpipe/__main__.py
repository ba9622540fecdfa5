import sys

from localpipe.cli import main

sys.exit(main())
