"""Calls home, and starts a process that would outlive grading."""
import socket
import subprocess

try:
    subprocess.Popen(["sleep", "600"])
finally:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
