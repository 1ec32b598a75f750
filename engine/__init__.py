"""Pure domain core of the reduction trigger.

No I/O, no environment, no wall clock, no logging setup. Instants inside the engine
are integer (or float, for receipt times) seconds since the Unix epoch, which is UTC
by definition; conversion to `datetime` happens at the edges.
"""
