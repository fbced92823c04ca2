import sys

from content_service.cli import main

sys.exit(main())
