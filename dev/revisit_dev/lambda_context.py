"""The one fake of Lambda's context object: used by the local stack's workers, the tests and the
bench. Standard library only, so a process that times its own start can import it for free."""

from __future__ import annotations

import time

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class LambdaContext:
    """The parts of Lambda's context that handlers and Powertools read.

    ``timeout_seconds`` counts from construction, as Lambda's deadline counts from the invocation.
    """

    def __init__(
        self,
        function_name: str = "test-function",
        memory_limit_in_mb: int = 512,
        timeout_seconds: float = 60,
        invoked_function_arn: str | None = None,
        aws_request_id: str | None = None,
        log_stream_name: str = "local",
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = invoked_function_arn or (
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        )
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        if aws_request_id is None:
            import uuid  # only when asked for: the bench's cold-start child passes its own

            aws_request_id = str(uuid.uuid4())
        self.aws_request_id = aws_request_id
        self.client_context = None
        self.identity = None
        self.timeout_seconds = timeout_seconds
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
