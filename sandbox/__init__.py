"""The embedded Aura Flow staging: a small but real system for the drill suite to drill.

The suite never imports this package; it runs `python -m sandbox up` and reads the config path
that command prints. Keep it that way: an examiner does not borrow the examinee's pen.
"""
