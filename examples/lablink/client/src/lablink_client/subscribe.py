"""subscribe: ask the allocator for a VM, and wait until one is free."""

import argparse
import os
import socket
import sys
import time

from .allocator import (
    Unreachable,
    add_common_args,
    base_url,
    error_text,
    post_json,
    seconds,
)

PROG = "subscribe"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ask the LabLink allocator for a VM (POST /vms/request) and print "
        "the name of the VM assigned. Without --once, asks again every --interval "
        "seconds while no VM is free or the allocator cannot be reached.",
        epilog="exit codes: 0 VM assigned, 1 the allocator refused the request, "
        "2 allocator unreachable (--once), 3 no VM is free (--once)",
    )
    parser.add_argument(
        "--user", help="who the VM is for (default: $CLIENT_USER, else this hostname)"
    )
    parser.add_argument("--once", action="store_true", help="ask once, do not wait")
    parser.add_argument(
        "--interval",
        type=seconds,
        default=5.0,
        help="seconds between attempts (default: 5)",
    )
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    user = args.user or os.environ.get("CLIENT_USER") or socket.gethostname()
    url = base_url(args.url) + "/vms/request"
    try:
        while True:
            try:
                status, body = post_json(url, {"user": user}, args.timeout)
            except Unreachable as exc:
                if args.once:
                    print(f"{PROG}: {exc}", file=sys.stderr)
                    return 2
                print(f"{PROG}: {exc}; retrying in {args.interval:g}s", file=sys.stderr)
            else:
                if status == 200 and isinstance(body.get("vm"), str):
                    print(body["vm"])
                    return 0
                if status == 200:
                    print(
                        f"{PROG}: unexpected answer from {url}: {body}", file=sys.stderr
                    )
                    return 1
                if status != 503:
                    print(
                        f"{PROG}: the allocator refused: {error_text(status, body)}",
                        file=sys.stderr,
                    )
                    return 1
                if args.once:
                    print(
                        f"{PROG}: no VM is free at {url} ({error_text(status, body)})",
                        file=sys.stderr,
                    )
                    return 3
                print(
                    f"{PROG}: no VM is free yet; retrying in {args.interval:g}s",
                    file=sys.stderr,
                )
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
