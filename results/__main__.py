import sys

from results.page import main

sys.exit(main())
