import sys

from localpipe.redrive.command import main

sys.exit(main())
