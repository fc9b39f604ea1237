# Two entry points (see README): `make main` trains + evaluates the default bundle on the default data,
# `make test` runs the test suite. Both create .venv and install the project first, at the exact versions of
# constraints.txt (setup.cfg has only lower bounds), with the test extras (jsonschema for verify_metadata included).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
BUNDLE ?= resnet18_binary
ARGS   ?=
CFG     = bundles/$(BUNDLE)/configs

.PHONY: setup system-packages main train evaluate test

setup: $(VENV)/.installed

# uv (from PyPI) installs the same pinned set as pip would, with parallel downloads: about 1 min instead of 3.
# --compile-bytecode writes the .pyc files at install time (as pip does; uv does not by default): where Python may not
# write them itself (PYTHONDONTWRITEBYTECODE, read-only installs) every process would compile torch and MONAI again,
# and `import monai` would take 30 s instead of 13
$(VENV)/.installed: setup.cfg setup.py pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'uv>=0.5'
	$(VENV)/bin/uv pip install --python $(PY) --quiet --compile-bytecode -c constraints.txt -e '.[test]'
	touch $@

train: setup
	$(PY) -m monai.bundle run training --config_file $(CFG)/train.json --logging_file $(CFG)/logging.conf $(ARGS)

evaluate: setup
	$(PY) -m monai.bundle run --config_file "['$(CFG)/train.json','$(CFG)/evaluate.json']" --logging_file $(CFG)/logging.conf $(ARGS)

main: train evaluate

# Debian packages the tests drive (never downloaded at run time): headless Chromium and its driver for the web app's
# browser test, dcmtk's dsrdump and dicom3tools' dciodvfy as second readers of the DICOM results
DEB_PACKAGES = chromium chromium-driver dcmtk dicom3tools
DEB_COMMANDS = chromium chromedriver dsrdump dciodvfy

system-packages:
	@for c in $(DEB_COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES); fi

# the project's own .pyc first, for the same reason as --compile-bytecode above (the suite starts ~100 processes);
# two pytest workers (one test file each, so a file's trained fixtures are built once), one thread each: two
# workers with a thread per core each would oversubscribe the cores
test: setup system-packages
	$(PY) -m compileall -q monai_tumorcls benchmarks tests
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder --durations=25 tests
