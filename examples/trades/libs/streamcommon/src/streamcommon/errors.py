"""The one kind of error a service reports as a single line and exit code 2."""


class ServiceError(Exception):
    """A problem with the settings, the state directory, the input or the broker.

    ``streamcommon.service.run_service`` prints ``NAME: <message>`` on stderr
    and returns 2. Each service names it after itself (``TradesError``,
    ``CandlesError``).
    """
