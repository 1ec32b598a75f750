"""ProjectX user hub over SignalR: a small hub-connection port (port.py), two adapters
(signalrcore_adapter.py, pysignalr_adapter.py) reading frames through one tap (frames.py),
the choice between them (factory.py) and the listener that owns reconnects (listener.py).
"""
