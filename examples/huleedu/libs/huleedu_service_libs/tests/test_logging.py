import io
import json
import logging

from huleedu_service_libs import configure_logging


def test_records_are_json_lines_with_extra_fields():
    stream = io.StringIO()
    configure_logging("demo_service", "DEBUG", stream=stream)
    try:
        logging.getLogger("demo").info("user created", extra={"user_id": "u1"})
        logging.getLogger("demo").debug("detail")
    finally:
        logging.getLogger().handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "user created"
    assert first["level"] == "INFO"
    assert first["service"] == "demo_service"
    assert first["user_id"] == "u1"
    assert second["level"] == "DEBUG"
