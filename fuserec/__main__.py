import sys

from fuserec.cli.main import main

sys.exit(main())
