import sys

from identity_service.cli import main

sys.exit(main())
