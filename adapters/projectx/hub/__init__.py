"""The ProjectX user hub over SignalR: the hub-connection port (port.py), two clients
implementing it (pysignalr_adapter.py, signalrcore_adapter.py) that read frames through
one tap (frames.py), the choice between them (factory.py) and the listener that owns
reconnects and reads each push once (listener.py). Which client, and why: README.md.
"""
