"""Values: cells and their CAD3 encoding, decoding, identity, equality and printing.

The bottom layer: imports nothing of ours. Other layers register their records' decoders and printers here.
"""
