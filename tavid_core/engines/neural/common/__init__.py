"""What every neural block is built from: saved configurations, layers, flow-matching ODEs, precision, windows
over long sequences, the motion vector.
"""
