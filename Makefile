# The two commands a fresh machine needs: `make run` and `make test`. Both bootstrap themselves.
.PHONY: run test bench screenshots

run:
	@scripts/bootstrap.sh run
	@.venv/bin/hiscrm

test:
	@scripts/bootstrap.sh test
	@scripts/run-tests.sh

bench:
	@scripts/bootstrap.sh test
	@.venv/bin/python bench/datastore.py

screenshots:
	@scripts/bootstrap.sh test
	@.venv/bin/python scripts/screenshots.py
