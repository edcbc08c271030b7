"""What several test modules share (the tests folder is on sys.path: `from helpers.scripts import ...`)."""
