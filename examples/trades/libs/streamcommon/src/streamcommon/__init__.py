"""What the trades and candles services share.

errors       ServiceError, the one error a service reports as a line and exit code 2
settings     the broker address (BROKER_ADDRESS, KAFKA_BROKER_ADDRESS) and typed variables
checkpoint   STATE_DIR checks and a JSON checkpoint file replaced atomically
broker       the Redis connection (2 s to connect) and why it could not be made
service      main's frame: SIGTERM, the one-line errors and the exit codes
script       main.py run by path: the package imported, not the files beside it
testing      pytest fixtures: a redis-server on 127.0.0.1 (needs pytest)
"""
