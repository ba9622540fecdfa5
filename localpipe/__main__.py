import sys

from localpipe.commands.cli import main

sys.exit(main())
