"""Dialogue scripts the tests share."""

SHORT_SCRIPT = """\
# three turns: a question, a pause, a bilabial-rich answer
A: Hello there, how are you doing today?
[pause:0.8s]
B: Maybe a bit tired, but happy to be here.
A: Good to hear.
"""
