"""The one kind of error the service reports as a single line and exit code 2.

CandlesError is streamcommon's ServiceError under this service's name: a
problem with the settings, the state directory or the broker. ``main`` prints
``candles: <message>`` on stderr and exits with code 2.
"""

from streamcommon.errors import ServiceError

CandlesError = ServiceError
