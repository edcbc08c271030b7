"""Pieces every engine family uses: the landmark face rig and the portrait it is built on, lip geometry, text
tidying, the espeak-ng library, the utterance contract.
"""
