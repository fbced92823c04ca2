"""``python -m strain_seer`` does what the ``strain-seer`` command does."""

from strain_seer.cli import main

raise SystemExit(main())
