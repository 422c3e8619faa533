"""moto's server, taking uploads to a bucket with Object Lock the way AWS does.

AWS takes an upload to a bucket with Object Lock and a default retention when it carries
Content-MD5 or an x-amz-checksum-<algorithm> header ("Content-MD5 OR x-amz-checksum- HTTP header
is required for Put Object requests with Object Lock parameters"). moto 5.2 asks instead for
Content-MD5 or x-amz-sdk-checksum-algorithm, a header the AWS SDKs add beside the checksum, and
without that header it neither takes nor keeps the checksum. Clients other than the SDKs (such as
object_store) send the checksum alone. This names the algorithm of a checksum header a request
carries as x-amz-sdk-checksum-algorithm, where the request has none, so that moto judges and
stores uploads as AWS does; requests without a checksum header pass unchanged (and a bucket
with Object Lock refuses them, as AWS does).

scripts/test-servers runs it with the venv's python and moto_server's arguments.
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
SDK_HEADER = "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"

dispatch = DomainDispatcherApplication.__call__


def with_checksum_algorithm(self, environ, start_response):
    if SDK_HEADER not in environ:
        for algorithm in ALGORITHMS:
            if f"HTTP_X_AMZ_CHECKSUM_{algorithm}" in environ:
                environ[SDK_HEADER] = algorithm
                break
    return dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = with_checksum_algorithm

if __name__ == "__main__":
    sys.exit(main())
