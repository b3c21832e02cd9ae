"""The one exception the sandbox raises on purpose: its message is the one line the user sees."""


class SandboxError(Exception):
    """A clear, one-line failure of the sandbox (a port taken, a binary missing, a server down)."""
