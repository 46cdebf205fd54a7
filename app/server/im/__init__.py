"""The parts of the IM client namespace (im_clients.py): request models, wire shapes,
handlers, pushes and limits."""
