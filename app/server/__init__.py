"""The embedded Socket.IO + REST server (PROTOCOL.md): remote IM clients and workers attach
to the engine of this process through it. It only calls engine services; the engine does not
know it exists (app/bootstrap.py switches it on and off)."""
