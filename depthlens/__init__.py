"""depthlens as a library: replay recordings into research tables without sockets.

``depthlens.replay`` gives DataFrames for notebooks; ``python main.py export`` writes the same
tables to Parquet. Both run ``depthlens.pipeline.VenueClockReplay``.
"""
