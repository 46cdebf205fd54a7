"""`hiscrm worker`: this machine's browser pool working for a master's engine (PROTOCOL.md §2,
hiscrm/1). The worker runs the engine's own pool on its own home; what the master assigns is
mirrored into its accounts table (assignments.py), what it stores goes to the master as
numbered deltas through a journal on disk (journal.py), and the master's replies and logins
run here through the same engine services the console uses (replies.py, login_relay.py),
over one Socket.IO connection (link.py). It only calls engine services; the engine knows it
only as the DataStore's `forward` (app/bootstrap.py composes it)."""
