"""LoRAs of the neural engines: what an engine implements to take them (host.py) and training, saving and merging
them with peft (adapters.py).
"""
