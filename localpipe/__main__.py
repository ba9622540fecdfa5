import sys

from localpipe.commands.cli import main
from results.record import ResultStore

sys.exit(main(results=ResultStore()))
