"""generate-init-sql: the PostgreSQL schema the allocator uses."""

SCHEMA = """\
CREATE TABLE IF NOT EXISTS vms (
    hostname    TEXT PRIMARY KEY,
    student     TEXT,
    in_use      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS vms_in_use ON vms (in_use);
"""


def main() -> None:
    print(SCHEMA, end="")


if __name__ == "__main__":
    main()
