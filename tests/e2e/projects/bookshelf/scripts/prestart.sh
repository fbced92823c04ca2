#! /usr/bin/env bash
set -e
# run the migrations before the app starts
alembic upgrade head
