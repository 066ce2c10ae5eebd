"""`helpbot`: ingest documents, ask questions, run the bots and inspect the index from a
terminal. Each command is a public runner taking the settings and a typed command value."""

from bots.cli.ask import *
from bots.cli.evaluate import *
from bots.cli.ingest import *
from bots.cli.inspect import *
from bots.cli.learning import *
from bots.cli.main import *
from bots.cli.platforms import *
from bots.cli.running import *
from bots.cli.serve import *
from bots.cli.sources import *
