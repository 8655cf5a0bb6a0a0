"""Telling people outside the station: the channels a notification goes out by.

``channel`` is the contract every channel keeps (the SMS modem's too, composed by the CLI);
``rate`` and ``queue`` keep a storm in order and within each channel's rate, without I/O;
``worker`` sends one channel's queue; ``wecom``, ``dingtalk`` and ``webhook`` are the HTTP
channels; ``config`` reads their section of the station's notify config. The policy, the
cascade and the durable rows are the notification engine's, not this package's.
"""
