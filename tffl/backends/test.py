"""TFF's `tff.backends.test` context names, on tffl's local context.

TFF's test contexts run secure sums as plain sums so that tests can use them;
tffl's local context runs them with masking already, so these are the contexts
of `tffl.backends.native` under TFF's test names.
"""

from tffl.backends import native

create_sync_test_cpp_execution_context = native.context_function(
    "create_sync_test_cpp_execution_context", asynchronous=False, sets_default=False
)
set_sync_test_cpp_execution_context = native.context_function(
    "set_sync_test_cpp_execution_context", asynchronous=False, sets_default=True
)
create_async_test_cpp_execution_context = native.context_function(
    "create_async_test_cpp_execution_context", asynchronous=True, sets_default=False
)
set_async_test_cpp_execution_context = native.context_function(
    "set_async_test_cpp_execution_context", asynchronous=True, sets_default=True
)
