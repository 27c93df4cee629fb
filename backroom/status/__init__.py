"""The end-user status endpoint: a task result's progress as JSON and as Server-Sent Events.

Include ``backroom.status.urls`` in a project's URLconf and hand users the
token from ``backroom.status_token(result)``: the signed token is the access
control, so nobody can read a result they were not given.
"""
