"""`identity-service`: serve the API until SIGTERM/SIGINT, then exit 0."""

from __future__ import annotations

import sys

from common_core import ConfigError
from huleedu_service_libs import run_service

from identity_service.app import create_app, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"identity-service: {exc}", file=sys.stderr)
        return 2
    return run_service(create_app(settings), settings)


if __name__ == "__main__":
    sys.exit(main())
