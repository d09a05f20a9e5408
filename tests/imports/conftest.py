"""The real SFTP servers of tests/sftp_servers.py, for the import tests."""

from sftp_servers import asyncssh_sftp, closed_port, openssh_sftp, sftp_server, silent_port  # noqa: F401
