"""The one kind of error the service reports as a single line and exit code 2.

TradesError is streamcommon's ServiceError under this service's name: a
problem with the settings, the state directory, the source or the broker.
``main`` prints ``trades: <message>`` on stderr and exits with code 2.
"""

from streamcommon.errors import ServiceError

TradesError = ServiceError
