"""update_inuse_status: tell the allocator whether this client's VM is in use."""

import argparse
import os
import sys
import urllib.parse

from .allocator import Unreachable, add_common_args, base_url, error_text, post_json

PROG = "update_inuse_status"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Tell the LabLink allocator whether this client's VM is in use "
        '(POST {"in_use": true|false} to /vms/<VM>/in-use).',
        epilog="exit codes: 0 status recorded, 1 the allocator refused it (HTTP error), "
        "2 allocator unreachable or bad usage",
    )
    state = parser.add_mutually_exclusive_group(required=True)
    state.add_argument(
        "--in-use", dest="in_use", action="store_true", help="the VM is in use"
    )
    state.add_argument(
        "--free", dest="in_use", action="store_false", help="the VM is free"
    )
    parser.add_argument("--vm", help="the VM's name (default: $VM_NAME)")
    add_common_args(parser)
    args = parser.parse_args(argv)
    args.vm = args.vm or os.environ.get("VM_NAME")
    if not args.vm:
        parser.error("no VM given: pass --vm or set VM_NAME")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    url = f"{base_url(args.url)}/vms/{urllib.parse.quote(args.vm, safe='')}/in-use"
    try:
        status, body = post_json(url, {"in_use": args.in_use}, args.timeout)
    except Unreachable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if status != 200:
        print(
            f"{PROG}: the allocator refused: {error_text(status, body)}",
            file=sys.stderr,
        )
        return 1
    in_use = body.get("in_use", args.in_use)
    print(f"{body.get('vm', args.vm)}: {'in use' if in_use else 'free'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
